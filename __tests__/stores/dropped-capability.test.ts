import { MemoryStore, type Store } from '../../lib';
import { type CapabilityForwarders, type CapabilityMethods, type SoftCapable, forwardCapabilities } from '../../lib/stores/store';
import { type ContractTestApi, runStoreContract } from '../../lib/testing';
import { ALL_CAPABILITIES } from './contract-api';

// The contract suite is what catches a store wrapper that drops or bends a capability: here it
// runs, outside Jest's own tree, on wrappers built with the library's forwarding mechanism, and
// must fail on each broken one (and pass on the faithful one, so a failure is the wrapper's).

interface Suite {
  befores: Array<() => Promise<void> | void>;
  afters: Array<() => Promise<void> | void>;
  tests: Array<{ name: string; body: () => Promise<void> }>;
  children: Suite[];
  name: string;
}

/** Runs the suite in-process; resolves with the names of the failed tests. */
async function runContract(makeStore: () => Promise<Store>): Promise<string[]> {
  const root: Suite = { name: '', befores: [], afters: [], tests: [], children: [] };
  let current = root;
  const api: ContractTestApi = {
    describe(name, body) {
      const suite: Suite = { name, befores: [], afters: [], tests: [], children: [] };
      current.children.push(suite);
      const parent = current;
      current = suite;
      body();
      current = parent;
    },
    it: (name, body) => void current.tests.push({ name, body }),
    beforeEach: (body) => void current.befores.push(body),
    afterEach: (body) => void current.afters.push(body),
  };
  runStoreContract(api, 'wrapper', makeStore, { capabilities: ALL_CAPABILITIES });
  const failed: string[] = [];
  const visit = async (suite: Suite, chain: Suite[]): Promise<void> => {
    const path = [...chain, suite];
    for (const { name, body } of suite.tests) {
      try {
        for (const hook of path.flatMap((s) => s.befores)) await hook();
        try {
          await body();
        } finally {
          for (const hook of [...path].reverse().flatMap((s) => s.afters)) await hook();
        }
      } catch {
        failed.push(`${suite.name} › ${name}`);
      }
    }
    for (const child of suite.children) await visit(child, path);
  };
  await visit(root, []);
  return failed;
}

/** Forwards every capability as it is, except what `override` replaces. */
function forwarders(override: Partial<CapabilityForwarders>): CapabilityForwarders {
  return {
    pattern: (inner) => ({ deletePattern: (pattern) => inner.deletePattern(pattern) }),
    tags: (inner) => ({ deleteTags: (tags) => inner.deleteTags(tags), deleteTagPattern: (pattern) => inner.deleteTagPattern(pattern) }),
    lock: (inner) => ({ acquireLock: (key, ttlMs) => inner.acquireLock(key, ttlMs), releaseLock: (key, token) => inner.releaseLock(key, token) }),
    rate: (inner) => ({ consumeRate: (key, limits) => inner.consumeRate(key, limits) }),
    prune: (inner) => ({ prune: () => inner.prune(), inspect: (options) => inner.inspect(options) }),
    guard: (inner) => ({
      stampInvalidations: (names, atMs, ttlMs) => inner.stampInvalidations(names, atMs, ttlMs),
      setUnlessInvalidated: (key, value, ttlMs, tags, names, sinceMs) => inner.setUnlessInvalidated(key, value, ttlMs, tags, names, sinceMs),
    }),
    soft: (inner) => ({
      getWithMark: (key) => inner.getWithMark(key),
      softDelete: (key, atMs) => inner.softDelete(key, atMs),
      softDeletePattern: (pattern, atMs) => inner.softDeletePattern(pattern, atMs),
      softDeleteTags: (tags, atMs) => inner.softDeleteTags(tags, atMs),
      softDeleteTagPattern: (pattern, atMs) => inner.softDeleteTagPattern(pattern, atMs),
    }),
    stale: (inner) => ({ isStale: (key) => inner.isStale(key) }),
    readNow: (inner) => ({ readNow: (key) => inner.readNow(key) }),
    ...override,
  };
}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
class Wrapper implements Store {
  readonly name = 'wrapper';
  constructor(
    readonly inner: Store,
    override: Partial<CapabilityForwarders> = {},
  ) {
    forwardCapabilities(this, inner, forwarders(override));
  }
  get(key: string): Promise<Buffer | undefined> {
    return this.inner.get(key);
  }
  set(key: string, value: Buffer, ttlMs: number, tags?: readonly string[]): Promise<void> {
    return this.inner.set(key, value, ttlMs, tags);
  }
  delete(key: string): Promise<boolean> {
    return this.inner.delete(key);
  }
  clear(): Promise<void> {
    return this.inner.clear();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging, @typescript-eslint/no-empty-object-type
interface Wrapper extends Partial<CapabilityMethods> {}

const wrapped = (override?: Partial<CapabilityForwarders>) => async (): Promise<Store> => new Wrapper(new MemoryStore(), override);

test('a wrapper forwarding every capability passes the contract', async () => {
  expect(await runContract(wrapped())).toEqual([]);
});

test('a wrapper whose soft invalidation removes instead of marking fails the contract', async () => {
  const failed = await runContract(wrapped({ soft: (inner) => ({ ...forwarders({}).soft(inner), softDelete: (key) => inner.delete(key) }) }));
  expect(failed).toContainEqual(expect.stringMatching(/softDelete marks a live entry/));
});

test('a wrapper that loses a soft method fails the contract (the capability is gone)', async () => {
  const failed = await runContract(wrapped({ soft: (inner) => ({ ...forwarders({}).soft(inner), softDeleteTagPattern: undefined as unknown as SoftCapable['softDeleteTagPattern'] }) }));
  expect(failed).toContainEqual(expect.stringMatching(/has exactly the capabilities/));
});

test('a wrapper whose guarded write ignores the stamps fails the contract', async () => {
  const failed = await runContract(
    wrapped({
      guard: (inner) => ({
        stampInvalidations: (names, atMs, ttlMs) => inner.stampInvalidations(names, atMs, ttlMs),
        setUnlessInvalidated: async (key, value, ttlMs, tags) => {
          await inner.set(key, value, ttlMs, tags);
          return true;
        },
      }),
    }),
  );
  expect(failed).toContainEqual(expect.stringMatching(/guarded write is refused/));
});

test('a wrapper that does not forward the guard at all fails the contract', async () => {
  const failed = await runContract(wrapped({ guard: () => ({}) as ReturnType<CapabilityForwarders['guard']> }));
  expect(failed).toContainEqual(expect.stringMatching(/has exactly the capabilities/));
});

test('a forwarder table without a capability does not compile', () => {
  const base = forwarders({});
  // @ts-expect-error: `soft` is missing, so this is not a complete CapabilityForwarders.
  const incomplete: CapabilityForwarders = { pattern: base.pattern, tags: base.tags, lock: base.lock, rate: base.rate, prune: base.prune, guard: base.guard, stale: base.stale, readNow: base.readNow };
  expect(Object.keys(incomplete)).not.toContain('soft');
});
