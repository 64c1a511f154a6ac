// Decorated classes for the decorator suite. This file is compiled twice by the Jest projects:
// once with TC39 standard decorators (tsconfig.json) and once with experimentalDecorators +
// emitDecoratorMetadata (tsconfig.legacy.json), so every test runs against both modes.
import { type Cache, CacheEvict, Cacheable } from '../../lib';

export interface Character {
  id: string;
  name: string;
  updatedAt: Date;
}

/** A slow-ish fake database that counts its reads. */
export class FakeDb {
  readonly rows = new Map<string, Character>();
  readonly reads: string[] = [];
  failReads = false;
  failWrites = false;

  async find(id: string): Promise<Character | null> {
    this.reads.push(id);
    await new Promise((resolve) => setTimeout(resolve, 20));
    if (this.failReads) throw new Error(`db down reading ${id}`);
    return this.rows.get(id) ?? null;
  }

  async save(character: Character): Promise<Character> {
    await new Promise((resolve) => setTimeout(resolve, 5));
    if (this.failWrites) throw new Error(`db down writing ${character.id}`);
    this.rows.set(character.id, character);
    return character;
  }
}

/** Which decorator protocol this file was compiled for, as seen by a decorator call. */
export let compiledMode: 'legacy' | 'standard' | undefined;

/**
 * A second, unrelated decorator in the style of the ones users stack with ours: it wraps the
 * method to record calls and attaches metadata the way NestJS's SetMetadata does (on the function
 * in legacy mode; in the class metadata object in standard mode).
 */
export function Recorded(label: string, calls: string[], style: 'plain' | 'async' = 'plain') {
  return function (...args: unknown[]): unknown {
    const legacy = args.length === 3;
    compiledMode = legacy ? 'legacy' : 'standard';
    const original = (legacy ? (args[2] as PropertyDescriptor).value : args[0]) as (...a: unknown[]) => Promise<unknown>;
    const wrapper =
      style === 'plain'
        ? function (this: unknown, ...callArgs: unknown[]) {
            calls.push(`${label}:${String(callArgs[0])}`);
            return original.apply(this, callArgs);
          }
        : async function (this: unknown, ...callArgs: unknown[]) {
            calls.push(`${label}:${String(callArgs[0])}`);
            return original.apply(this, callArgs);
          };
    if (legacy) {
      Reflect.defineMetadata('test:label', label, wrapper);
      return { ...(args[2] as PropertyDescriptor), value: wrapper };
    }
    const context = args[1] as ClassMethodDecoratorContext;
    (context.metadata as Record<string, unknown>)[`test:label:${String(context.name)}`] = label;
    return wrapper;
  } as (...args: unknown[]) => void;
}

/** Reads the label `Recorded` attached, wherever the mode put it. */
export function recordedLabel(cls: { prototype: object }, method: string): unknown {
  const fn = (cls.prototype as Record<string, unknown>)[method] as object;
  const metadataSymbol = (Symbol as { metadata?: symbol }).metadata as symbol;
  const standard = (cls as unknown as Record<symbol, Record<string, unknown> | undefined>)[metadataSymbol]?.[`test:label:${method}`];
  return standard ?? Reflect.getMetadata('test:label', fn);
}

/** Defines the services against one cache, so each store kind gets classes of its own. */
export function defineServices(cache: Cache) {
  const calls: string[] = [];

  class CharacterService {
    constructor(readonly db: FakeDb) {}

    @Cacheable({ key: (id: string) => `character:${id}`, ttl: 'character', cache })
    async getCharacter(id: string): Promise<Character | null> {
      return this.db.find(id);
    }

    @Cacheable({ key: 'summary:{0}:{1.lang}', ttl: 60, cache })
    async summary(id: string, options: { lang: string }): Promise<string> {
      const character = await this.db.find(id);
      return `${options.lang}:${character?.name ?? '?'}`;
    }

    @Cacheable({ scope: 'character', cache })
    async byScope(id: string, detail?: string): Promise<Character | null> {
      void detail;
      return this.db.find(id);
    }

    @Cacheable({ scope: 'search', cache })
    async searchScoped(filter: { name: string }): Promise<string> {
      return `found ${filter.name}`;
    }

    @Cacheable({ cache })
    async search(filter: { name?: string; tags?: string[] }, page = 1): Promise<{ hits: string[]; page: number }> {
      await this.db.find(`search:${filter.name ?? ''}`);
      return { hits: [filter.name ?? ''], page };
    }

    @Cacheable({ cache, condition: (result: Character | null) => result !== null && result.name !== 'volatile' })
    async conditional(id: string): Promise<Character | null> {
      return this.db.find(id);
    }

    @Cacheable({ cache, cacheNull: true })
    async nullable(id: string): Promise<Character | null> {
      return this.db.find(id);
    }

    @CacheEvict({ scope: 'character', id: ([id]: [string]) => id, cache })
    async updateCharacter(id: string, name: string): Promise<Character> {
      return this.db.save({ id, name, updatedAt: new Date() });
    }

    @CacheEvict({ keys: (_args, result: Character) => [`character:${result.id}`], cache })
    async rename(id: string, name: string): Promise<Character> {
      return this.db.save({ id, name, updatedAt: new Date() });
    }

    @CacheEvict({ patterns: 'summary:*', keys: 'character:all', cache })
    async resetSummaries(): Promise<void> {}

    @CacheEvict({ scope: 'character', cache })
    async wipeCharacters(): Promise<number> {
      return 1;
    }

    @CacheEvict({ scope: 'character', id: () => undefined as unknown as string, cache })
    async badEvict(): Promise<void> {}

    @Recorded('outer', calls)
    @Cacheable({ key: (id: string) => `stacked-a:${id}`, cache })
    async stackedUnder(id: string): Promise<string> {
      calls.push(`body:${id}`);
      return `a:${id}`;
    }

    @Cacheable({ key: (id: string) => `stacked-b:${id}`, cache })
    @Recorded('inner', calls, 'async')
    async stackedOver(id: string): Promise<string> {
      calls.push(`body:${id}`);
      return `b:${id}`;
    }

    @Cacheable({ key: 'team:{0}', cache, tags: (args: [string], result: string[]) => [`team:${args[0]}`, ...result.map((id) => `character:${id}`)] })
    async team(name: string): Promise<string[]> {
      calls.push(`team:${name}`);
      return ['c1', 'c2'];
    }

    @CacheEvict({ tags: ([id]: [string]) => `character:${id}`, cache })
    async touchCharacter(id: string): Promise<string> {
      return id;
    }

    @Cacheable({ cache })
    static async version(): Promise<string> {
      return `v${++CharacterService.versionCalls}`;
    }

    static versionCalls = 0;
  }

  class AdminCharacterService extends CharacterService {
    @Cacheable({ cache, ttl: 30 })
    async audit(id: string): Promise<string> {
      return `audit:${this.db.rows.get(id)?.name ?? '?'}`;
    }
  }

  return { CharacterService, AdminCharacterService, calls };
}
