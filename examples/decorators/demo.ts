// Run with `npm run demo:decorators` (or `npx tsx examples/decorators/demo.ts`).
// Set REDIS_URL=redis://127.0.0.1:6380 to cache in Redis instead of memory.
//
// Uses TC39 standard decorators (TypeScript 5 without experimentalDecorators); the same
// decorators also work with experimentalDecorators + emitDecoratorMetadata (NestJS).
import { CacheEvict, Cacheable, MemoryStore, RedisStore, configureCache, getCacheMetadata, getCachedQuery, getDefaultCache } from 'express-cache-kit';

interface Character {
  id: string;
  name: string;
  updatedAt: Date;
}

/** A database that takes its time answering. */
class SlowDatabase {
  private readonly rows = new Map<string, Character>([['char_123', { id: 'char_123', name: 'Ada', updatedAt: new Date('2026-01-01') }]]);

  async findCharacter(id: string): Promise<Character | null> {
    await new Promise((resolve) => setTimeout(resolve, 300));
    return this.rows.get(id) ?? null;
  }

  async saveCharacter(character: Character): Promise<Character> {
    await new Promise((resolve) => setTimeout(resolve, 50));
    this.rows.set(character.id, character);
    return character;
  }

  async countCharacters(): Promise<number> {
    await new Promise((resolve) => setTimeout(resolve, 300));
    return this.rows.size;
  }
}

class CharacterService {
  constructor(private readonly db: SlowDatabase) {}

  // Key `character:{id}`, the scope `character` that invalidateScope('character', id) clears.
  @Cacheable({ scope: 'character', ttl: 'character' })
  async getCharacter(id: string): Promise<Character | null> {
    return this.db.findCharacter(id);
  }

  // After the write succeeds: removes `character:{id}` and every `character:{id}:*` key.
  @CacheEvict({ scope: 'character', id: ([id]: [string, string]) => id })
  async updateCharacter(id: string, name: string): Promise<Character> {
    return this.db.saveCharacter({ id, name, updatedAt: new Date() });
  }

  // The same caching as a plain function call.
  async countCharacters(): Promise<number> {
    return getCachedQuery('characters:count', () => this.db.countCharacters(), 60);
  }
}

async function timed<T>(label: string, run: () => Promise<T>): Promise<T> {
  const started = process.hrtime.bigint();
  const value = await run();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  console.log(`${label.padEnd(44)} ${ms.toFixed(1).padStart(7)} ms  ${JSON.stringify(value)}`);
  return value;
}

async function main(): Promise<void> {
  const url = process.env.REDIS_URL;
  const store = url ? new RedisStore({ url }) : new MemoryStore();
  // A cache client does not queue commands while disconnected; wait for the first connection.
  if (store instanceof RedisStore) await store.ready();
  configureCache({ store, namespace: 'demo' });
  await getDefaultCache().clear();
  console.log(`cache: ${url ? `Redis at ${url}` : 'memory'}\n`);

  const service = new CharacterService(new SlowDatabase());
  await timed('getCharacter (first call: database)', () => service.getCharacter('char_123'));
  const cached = await timed('getCharacter (second call: cache)', () => service.getCharacter('char_123'));
  console.log(`  updatedAt is still a Date: ${String(cached?.updatedAt instanceof Date)}`);
  await timed('updateCharacter (write, then evict)', () => service.updateCharacter('char_123', 'Ada Lovelace'));
  await timed('getCharacter (after eviction: database)', () => service.getCharacter('char_123'));
  await timed('getCharacter (cache again)', () => service.getCharacter('char_123'));
  await timed('countCharacters via getCachedQuery (database)', () => service.countCharacters());
  await timed('countCharacters via getCachedQuery (cache)', () => service.countCharacters());

  console.log('\nwhat is cached, from getCacheMetadata(CharacterService):');
  for (const entry of getCacheMetadata(CharacterService)) {
    console.log(`  ${entry.className}.${String(entry.method)}: @${entry.kind === 'cacheable' ? 'Cacheable' : 'CacheEvict'} ${JSON.stringify(entry.options)}`);
  }
  console.log('\nstats:', getDefaultCache().stats());
  await getDefaultCache().close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
