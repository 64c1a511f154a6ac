import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { StoreClosedError } from '../errors';
import { globToRegExp as keysGlobToRegExp } from '../keys';
import {
  type GuardCapable,
  type PruneCapable,
  type SoftCapable,
  type StalenessCapable,
  type Store,
  canCheckStale,
  canDeletePattern,
  canDeleteTags,
  canGuardWrites,
  canLock,
  canPrune,
  canRateLimit,
  canSoftInvalidate,
} from '../stores/store';

/**
 * The test-runner functions the contract suite needs. Jest, Vitest and Mocha globals fit as
 * they are; the suite asserts with `node:assert`, so it imports no test framework at runtime.
 *
 * @example
 * ```ts
 * import { describe, it, beforeEach, afterEach } from 'vitest';
 * const api: ContractTestApi = { describe, it, beforeEach, afterEach };
 * ```
 */
export interface ContractTestApi {
  describe(name: string, body: () => void): void;
  it(name: string, body: () => Promise<void>, timeoutMs?: number): void;
  beforeEach(body: () => Promise<void> | void): void;
  afterEach(body: () => Promise<void> | void): void;
}

/**
 * Options of {@link runStoreContract}.
 *
 * @example
 * ```ts
 * runStoreContract(api, 'MyStore', makeStore, { timeoutMs: 60_000, capabilities: ['PatternCapable', 'LockCapable'] });
 * ```
 */
export interface StoreContractOptions {
  /**
   * The timeout handed to `it` for each test, in milliseconds (a remote store filling 2,500 keys
   * needs more than a runner's usual 5 s default).
   * @default 30000
   */
  timeoutMs?: number;
  /**
   * The capabilities the store must have, exactly. Capability tests run only on a store that has
   * the capability (and pass trivially on one that lacks it), so say what you built: a store
   * that lost a method by mistake then fails here instead of silently skipping its tests.
   * @default not checked
   */
  capabilities?: ReadonlyArray<StoreCapability>;
}

/**
 * A capability interface, by the name {@link StoreContractOptions.capabilities} uses.
 *
 * @example
 * ```ts
 * const mine: StoreCapability[] = ['PatternCapable', 'TagCapable'];
 * ```
 */
export type StoreCapability = 'PatternCapable' | 'TagCapable' | 'LockCapable' | 'RateLimitCapable' | 'PruneCapable' | 'GuardCapable' | 'SoftCapable' | 'StalenessCapable';

/**
 * The capabilities `store` has, found with the `can*` guards the cache uses.
 *
 * @example
 * ```ts
 * storeCapabilities(new MemoryStore()); // ['PatternCapable', 'TagCapable', 'LockCapable', 'RateLimitCapable', 'GuardCapable', 'SoftCapable']
 * ```
 */
export function storeCapabilities(store: Store): StoreCapability[] {
  const found: StoreCapability[] = [];
  if (canDeletePattern(store)) found.push('PatternCapable');
  if (canDeleteTags(store)) found.push('TagCapable');
  if (canLock(store)) found.push('LockCapable');
  if (canRateLimit(store)) found.push('RateLimitCapable');
  if (canPrune(store)) found.push('PruneCapable');
  if (canGuardWrites(store)) found.push('GuardCapable');
  if (canSoftInvalidate(store)) found.push('SoftCapable');
  if (canCheckStale(store)) found.push('StalenessCapable');
  return found;
}

/**
 * Turns a Redis glob (`*`, `?`, `[abc]`, `[^a]`, `[a-z]`, `\x`) into an anchored RegExp with the
 * same meaning, for stores without native globbing: `PatternCapable.deletePattern` and
 * `TagCapable.deleteTagPattern` must match exactly what Redis would.
 *
 * @example
 * ```ts
 * const matcher = globToRegExp('character:a\\*');
 * matcher.test('character:a*'); // true
 * matcher.test('character:ab'); // false
 * ```
 */
export const globToRegExp: (glob: string) => RegExp = keysGlobToRegExp;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const bytes = (text: string): Buffer => Buffer.from(text);
const text = (value: Buffer | undefined): string | undefined => value?.toString();

/**
 * The contract every {@link Store} passes, as a test suite for your runner. The core runs
 * always; each capability (`PatternCapable`, `TagCapable`, `LockCapable`, `RateLimitCapable`,
 * `PruneCapable`, `GuardCapable` (the write guard), `SoftCapable` (soft invalidation),
 * `StalenessCapable`) runs when the store has it, found with the same `can*` guards the cache uses. `makeStore`
 * returns a fresh, empty store; the suite closes each one after its test.
 *
 * @example
 * ```ts
 * // my-store.test.ts (Jest or Vitest globals)
 * import { runStoreContract } from 'express-cache-kit/testing';
 * import { MyStore } from '../src/my-store';
 *
 * runStoreContract({ describe, it, beforeEach, afterEach }, 'MyStore', async () => new MyStore({ table: `t_${Date.now()}` }));
 * ```
 */
export function runStoreContract(api: ContractTestApi, label: string, makeStore: () => Promise<Store>, options: StoreContractOptions = {}): void {
  const { describe, beforeEach, afterEach } = api;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const it = (name: string, body: () => Promise<void>): void => api.it(name, body, timeoutMs);
  let store: Store;
  let capabilities: Record<Has, boolean> | undefined;

  describe(`Store contract: ${label}`, () => {
    beforeEach(async () => {
      store = await makeStore();
      capabilities = {
        pattern: canDeletePattern(store),
        tags: canDeleteTags(store),
        lock: canLock(store),
        rate: canRateLimit(store),
        prune: canPrune(store),
        guard: canGuardWrites(store),
        soft: canSoftInvalidate(store),
        stale: canCheckStale(store),
      };
    });
    afterEach(async () => {
      await store.close();
    });

    describe('core', () => {
      coreTests(it, () => store);
      const expected = options.capabilities;
      if (expected !== undefined) {
        it(`has exactly the capabilities ${expected.join(', ') || '(none)'}`, async () => {
          assert.deepEqual(storeCapabilities(store), [...new Set(expected)].sort((a, b) => ORDER.indexOf(a) - ORDER.indexOf(b)));
        });
      }
    });
    // Capability suites are declared for every store and skip themselves when the store lacks
    // the capability: which capabilities a store has is only known once it is built.
    const when = (has: Has, body: () => Promise<void>) => async (): Promise<void> => {
      if (capabilities?.[has] !== true) return;
      await body();
    };
    describe('PatternCapable (runs when the store has deletePattern)', () => patternTests(it, () => store, when));
    describe('TagCapable (runs when the store has deleteTags and deleteTagPattern)', () => tagTests(it, () => store, when, () => capabilities?.pattern === true));
    describe('LockCapable (runs when the store has acquireLock and releaseLock)', () => lockTests(it, () => store, when));
    describe('RateLimitCapable (runs when the store has consumeRate)', () => rateTests(it, () => store, when));
    describe('PruneCapable (runs when the store has prune and inspect)', () => pruneTests(it, () => store, when));
    describe('GuardCapable (runs when the store has stampInvalidations and setUnlessInvalidated)', () => guardTests(it, () => store, when, () => capabilities?.tags === true));
    describe('SoftCapable (runs when the store has getWithMark and the softDelete methods)', () => softTests(it, () => store, when, () => capabilities));
    describe('StalenessCapable (runs when the store has isStale)', () => staleTests(it, () => store, when));
  });
}

const ORDER: readonly StoreCapability[] = ['PatternCapable', 'TagCapable', 'LockCapable', 'RateLimitCapable', 'PruneCapable', 'GuardCapable', 'SoftCapable', 'StalenessCapable'];

type Has = 'pattern' | 'tags' | 'lock' | 'rate' | 'prune' | 'guard' | 'soft' | 'stale';
type It = (name: string, body: () => Promise<void>) => void;
type When = (has: Has, body: () => Promise<void>) => () => Promise<void>;

function coreTests(it: It, current: () => Store): void {
  it('get of an absent key is undefined', async () => {
    assert.equal(await current().get('absent'), undefined);
  });

  it('set then get returns the same bytes; set replaces', async () => {
    const store = current();
    await store.set('k', bytes('one'), 60_000);
    assert.equal(text(await store.get('k')), 'one');
    await store.set('k', bytes('two'), 60_000);
    assert.equal(text(await store.get('k')), 'two');
  });

  it('delete reports whether something was removed', async () => {
    const store = current();
    await store.set('k', bytes('v'), 60_000);
    assert.equal(await store.delete('k'), true);
    assert.equal(await store.get('k'), undefined);
    assert.equal(await store.delete('k'), false);
  });

  it('entries expire after their TTL and live until then', async () => {
    const store = current();
    await store.set('short', bytes('v'), 40);
    await store.set('long', bytes('v'), 60_000);
    await sleep(150);
    assert.equal(await store.get('short'), undefined);
    assert.equal(text(await store.get('long')), 'v');
  });

  it('set accepts tags whether or not the store can delete by tag', async () => {
    const store = current();
    await store.set('tagged', bytes('t'), 60_000, ['a', 'b']);
    assert.equal(text(await store.get('tagged')), 't');
  });

  it('clear removes every entry', async () => {
    const store = current();
    await store.set('a', bytes('1'), 60_000);
    await store.set('b', bytes('2'), 60_000, ['t']);
    await store.clear();
    assert.equal(await store.get('a'), undefined);
    assert.equal(await store.get('b'), undefined);
  });

  it('binary values round-trip byte for byte', async () => {
    const store = current();
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    await store.set('bin', all, 60_000);
    assert.ok((await store.get('bin'))?.equals(all));
  });

  it('large values (2 MiB) round-trip', async () => {
    const store = current();
    const large = randomBytes(2 * 1024 * 1024);
    await store.set('large', large, 60_000);
    assert.ok((await store.get('large'))?.equals(large));
  });

  it('the stored value does not change when the caller reuses its buffer', async () => {
    const store = current();
    const buffer = bytes('original');
    await store.set('k', buffer, 60_000);
    buffer.write('mutated!');
    assert.equal(text(await store.get('k')), 'original');
  });

  it('concurrent writers: every key lands, and a contended key holds one of the written values', async () => {
    const store = current();
    await Promise.all(Array.from({ length: 200 }, (_, i) => store.set(`w:${i}`, bytes(String(i)), 60_000)));
    const values = await Promise.all(Array.from({ length: 200 }, (_, i) => store.get(`w:${i}`)));
    assert.deepEqual(
      values.map((v) => text(v)),
      Array.from({ length: 200 }, (_, i) => String(i)),
    );
    const written = Array.from({ length: 50 }, (_, i) => `v${i}`);
    await Promise.all(written.map((v) => store.set('contended', bytes(v), 60_000)));
    assert.ok(written.includes(text(await store.get('contended')) ?? ''));
  });

  it('after close every operation, capabilities included, rejects with StoreClosedError; close is idempotent', async () => {
    const store = current();
    await store.close();
    await assert.rejects(store.get('k'), StoreClosedError);
    await assert.rejects(store.set('k', bytes('v'), 1_000), StoreClosedError);
    await assert.rejects(store.set('k', bytes('v'), 1_000, ['t']), StoreClosedError);
    await assert.rejects(store.delete('k'), StoreClosedError);
    await assert.rejects(store.clear(), StoreClosedError);
    if (canDeletePattern(store)) await assert.rejects(store.deletePattern('*'), StoreClosedError);
    if (canDeleteTags(store)) {
      await assert.rejects(store.deleteTags(['t']), StoreClosedError);
      await assert.rejects(store.deleteTagPattern('*'), StoreClosedError);
    }
    if (canLock(store)) await assert.rejects(store.acquireLock('lock', 1_000), StoreClosedError);
    if (canRateLimit(store)) await assert.rejects(store.consumeRate('rate', { minIntervalMs: 10, maxPerWindow: 0, windowMs: 1_000 }), StoreClosedError);
    if (canGuardWrites(store)) await assert.rejects(store.setUnlessInvalidated('k', bytes('v'), 1_000, undefined, ['k:k'], 0), StoreClosedError);
    if (canSoftInvalidate(store)) {
      await assert.rejects(store.getWithMark('k'), StoreClosedError);
      await assert.rejects(store.softDelete('k', 1), StoreClosedError);
      await assert.rejects(store.softDeletePattern('*', 1), StoreClosedError);
      await assert.rejects(store.softDeleteTags(['t'], 1), StoreClosedError);
      await assert.rejects(store.softDeleteTagPattern('*', 1), StoreClosedError);
    }
    await store.close();
  });
}

function patternTests(it: It, current: () => Store, when: When): void {
  const store = (): Store & { deletePattern(pattern: string): Promise<number> } => current() as Store & { deletePattern(pattern: string): Promise<number> };

  it(
    'deletePattern removes matching keys only and counts them',
    when('pattern', async () => {
      for (const key of ['character:1', 'character:2', 'character:1:stats', 'content:1', 'api:character:x']) await store().set(key, bytes(key), 60_000);
      assert.equal(await store().deletePattern('character:*'), 3);
      assert.equal(await store().get('character:1'), undefined);
      assert.equal(await store().get('character:1:stats'), undefined);
      assert.equal(text(await store().get('content:1')), 'content:1');
      assert.equal(text(await store().get('api:character:x')), 'api:character:x');
      assert.equal(await store().deletePattern('nothing:*'), 0);
    }),
  );

  it(
    'deletePattern honours escaped glob characters and ? and [..]',
    when('pattern', async () => {
      await store().set('id:a*', bytes('star'), 60_000);
      await store().set('id:ab', bytes('ab'), 60_000);
      await store().set('id:ac', bytes('ac'), 60_000);
      assert.equal(await store().deletePattern('id:a\\*'), 1);
      assert.equal(text(await store().get('id:ab')), 'ab');
      assert.equal(await store().deletePattern('id:a[b]'), 1);
      assert.equal(await store().deletePattern('id:a?'), 1);
      assert.equal(await store().get('id:ac'), undefined);
    }),
  );

  it(
    'deletePattern walks more keys than one scan batch',
    when('pattern', async () => {
      for (let batch = 0; batch < 10; batch++) {
        await Promise.all(Array.from({ length: 250 }, (_, i) => store().set(`bulk:${batch * 250 + i}`, bytes('x'), 60_000)));
      }
      await store().set('keep', bytes('x'), 60_000);
      assert.equal(await store().deletePattern('bulk:*'), 2_500);
      assert.equal(await store().get('bulk:0'), undefined);
      assert.notEqual(await store().get('keep'), undefined);
    }),
  );
}

interface Tagged extends Store {
  deleteTags(tags: readonly string[]): Promise<number>;
  deleteTagPattern(pattern: string): Promise<number>;
  deletePattern?(pattern: string): Promise<number>;
}

function tagTests(it: It, current: () => Store, when: When, hasPattern: () => boolean): void {
  const store = (): Tagged => current() as Tagged;

  it(
    'deleteTags removes the tagged entries only, counts them, and drops the index',
    when('tags', async () => {
      await store().set('character:1', bytes('1'), 60_000, ['character:1', 'team:a']);
      await store().set('api:character:x', bytes('x'), 60_000, ['character:1']);
      await store().set('character:2', bytes('2'), 60_000, ['character:2', 'team:a']);
      await store().set('untagged', bytes('u'), 60_000);
      assert.equal(await store().deleteTags(['character:1']), 2);
      assert.equal(await store().get('character:1'), undefined);
      assert.equal(await store().get('api:character:x'), undefined);
      assert.equal(text(await store().get('character:2')), '2');
      assert.equal(text(await store().get('untagged')), 'u');
      // The index went with its members: deleting the tag again finds nothing.
      assert.equal(await store().deleteTags(['character:1']), 0);
      // The other tag of a removed entry still reaches its remaining member.
      assert.equal(await store().deleteTags(['team:a', 'never-used']), 1);
      assert.equal(await store().get('character:2'), undefined);
    }),
  );

  it(
    'a tag does not shorten an entry, and expired members are not counted',
    when('tags', async () => {
      await store().set('short', bytes('s'), 40, ['t']);
      await store().set('long', bytes('l'), 60_000, ['t']);
      await sleep(150);
      assert.equal(await store().get('short'), undefined);
      assert.equal(text(await store().get('long')), 'l');
      assert.equal(await store().deleteTags(['t']), 1);
      assert.equal(await store().get('long'), undefined);
    }),
  );

  it(
    'deleteTags removes more members than one batch',
    when('tags', async () => {
      for (let batch = 0; batch < 10; batch++) {
        await Promise.all(Array.from({ length: 250 }, (_, i) => store().set(`bulk:${batch * 250 + i}`, bytes('x'), 60_000, ['bulk'])));
      }
      await store().set('keep', bytes('x'), 60_000, ['other']);
      assert.equal(await store().deleteTags(['bulk']), 2_500);
      assert.equal(await store().get('bulk:0'), undefined);
      assert.equal(await store().get('bulk:2499'), undefined);
      assert.notEqual(await store().get('keep'), undefined);
    }),
  );

  it(
    'deleteTagPattern removes the tags whose names match, honouring escapes',
    when('tags', async () => {
      await store().set('a', bytes('a'), 60_000, ['character:a*']);
      await store().set('b', bytes('b'), 60_000, ['character:ab']);
      await store().set('c', bytes('c'), 60_000, ['content:1']);
      assert.equal(await store().deleteTagPattern('character:a\\*'), 1);
      assert.equal(await store().get('a'), undefined);
      assert.equal(text(await store().get('b')), 'b');
      assert.equal(await store().deleteTagPattern('character:*'), 1);
      assert.equal(text(await store().get('c')), 'c');
      assert.equal(await store().deleteTagPattern('nothing:*'), 0);
    }),
  );

  it(
    'deletePattern never counts or drops tag indexes',
    when('tags', async () => {
      const tagged = store();
      if (!hasPattern() || tagged.deletePattern === undefined) return;
      await tagged.set('x:1', bytes('1'), 60_000, ['t']);
      await tagged.set('x:2', bytes('2'), 60_000);
      assert.equal(await tagged.deletePattern('*'), 2);
      // The index survived: a later member is still reachable through the tag.
      await tagged.set('x:3', bytes('3'), 60_000, ['t']);
      assert.equal(await tagged.deleteTags(['t']), 1);
      assert.equal(await tagged.get('x:3'), undefined);
    }),
  );

  it(
    'concurrent tagged writers and a tag delete leave no tagged entry behind',
    when('tags', async () => {
      await Promise.all(Array.from({ length: 100 }, (_, i) => store().set(`c:${i}`, bytes('v'), 60_000, ['c'])));
      await Promise.all([store().deleteTags(['c']), ...Array.from({ length: 100 }, (_, i) => store().set(`c:${100 + i}`, bytes('v'), 60_000, ['c']))]);
      // Whatever interleaving happened, every entry still present is reachable from its tag.
      await store().deleteTags(['c']);
      const left = await Promise.all(Array.from({ length: 200 }, (_, i) => store().get(`c:${i}`)));
      assert.deepEqual(
        left.filter((v) => v !== undefined),
        [],
      );
    }),
  );

  it(
    'clear drops tag indexes too',
    when('tags', async () => {
      await store().set('b', bytes('2'), 60_000, ['t']);
      await store().clear();
      assert.equal(await store().deleteTags(['t']), 0);
    }),
  );
}

interface Locking extends Store {
  acquireLock(key: string, ttlMs: number): Promise<string | undefined>;
  releaseLock(key: string, token: string): Promise<void>;
}

function lockTests(it: It, current: () => Store, when: When): void {
  const store = (): Locking => current() as Locking;

  it(
    'a lock is exclusive until its holder releases it with its token',
    when('lock', async () => {
      const token = await store().acquireLock('lock:a', 60_000);
      assert.equal(typeof token, 'string');
      assert.equal(await store().acquireLock('lock:a', 60_000), undefined);
      // Another key is another lock.
      assert.equal(typeof (await store().acquireLock('lock:b', 60_000)), 'string');
      await store().releaseLock('lock:a', token as string);
      const next = await store().acquireLock('lock:a', 60_000);
      assert.equal(typeof next, 'string');
      assert.notEqual(next, token);
    }),
  );

  it(
    'a release with a wrong token leaves the lock held',
    when('lock', async () => {
      const token = await store().acquireLock('lock:owned', 60_000);
      assert.equal(typeof token, 'string');
      await store().releaseLock('lock:owned', `not-${String(token)}`);
      assert.equal(await store().acquireLock('lock:owned', 60_000), undefined);
      await store().releaseLock('lock:owned', token as string);
      assert.equal(typeof (await store().acquireLock('lock:owned', 60_000)), 'string');
    }),
  );

  it(
    'a lock expires by itself, and its late holder cannot release the next holder',
    when('lock', async () => {
      const first = await store().acquireLock('lock:ttl', 50);
      assert.equal(typeof first, 'string');
      await sleep(150);
      const second = await store().acquireLock('lock:ttl', 60_000);
      assert.equal(typeof second, 'string');
      await store().releaseLock('lock:ttl', first as string);
      assert.equal(await store().acquireLock('lock:ttl', 60_000), undefined);
    }),
  );

  it(
    'locks are not entries: get does not see them as values you stored',
    when('lock', async () => {
      await store().set('entry', bytes('v'), 60_000);
      await store().acquireLock('lock:entry-side', 60_000);
      assert.equal(text(await store().get('entry')), 'v');
    }),
  );
}

interface Limiting extends Store {
  consumeRate(key: string, limits: { minIntervalMs: number; maxPerWindow: number; windowMs: number }): Promise<number>;
}

function rateTests(it: It, current: () => Store, when: When): void {
  const store = (): Limiting => current() as Limiting;

  it(
    'minIntervalMs spaces calls: the next one waits, then is allowed',
    when('rate', async () => {
      const limits = { minIntervalMs: 200, maxPerWindow: 0, windowMs: 60_000 };
      assert.equal(await store().consumeRate('rate:spaced', limits), 0);
      const wait = await store().consumeRate('rate:spaced', limits);
      assert.ok(wait > 0 && wait <= 200, `expected a wait in (0, 200], got ${wait}`);
      // Another limiter name is another limit.
      assert.equal(await store().consumeRate('rate:other', limits), 0);
      await sleep(300);
      assert.equal(await store().consumeRate('rate:spaced', limits), 0);
    }),
  );

  it(
    'maxPerWindow counts calls in a window, and the window resets',
    when('rate', async () => {
      const limits = { minIntervalMs: 0, maxPerWindow: 2, windowMs: 200 };
      assert.equal(await store().consumeRate('rate:window', limits), 0);
      assert.equal(await store().consumeRate('rate:window', limits), 0);
      const wait = await store().consumeRate('rate:window', limits);
      assert.ok(wait > 0 && wait <= 200, `expected a wait in (0, 200], got ${wait}`);
      await sleep(300);
      assert.equal(await store().consumeRate('rate:window', limits), 0);
      assert.equal(await store().consumeRate('rate:window', limits), 0);
      assert.ok((await store().consumeRate('rate:window', limits)) > 0);
    }),
  );

  it(
    'a refused call is not counted',
    when('rate', async () => {
      const limits = { minIntervalMs: 0, maxPerWindow: 1, windowMs: 300 };
      assert.equal(await store().consumeRate('rate:refused', limits), 0);
      for (let i = 0; i < 5; i++) assert.ok((await store().consumeRate('rate:refused', limits)) > 0);
      await sleep(400);
      assert.equal(await store().consumeRate('rate:refused', limits), 0);
    }),
  );
}

function pruneTests(it: It, current: () => Store, when: When): void {
  const store = (): Store & PruneCapable => current() as Store & PruneCapable;

  it(
    'prune removes expired entries only, and inspect counts what is held',
    when('prune', async () => {
      await store().set('short', bytes('s'), 40);
      await store().set('long', bytes('l'), 60_000);
      await sleep(150);
      const before = await store().inspect();
      assert.ok(before.entries >= 1, `expected at least the live entry, got ${before.entries}`);
      assert.ok((await store().prune()) >= 1);
      assert.equal(text(await store().get('long')), 'l');
      const after = await store().inspect();
      assert.equal(after.expired, 0);
      assert.ok(after.entries >= 1);
    }),
  );
}

function staleTests(it: It, current: () => Store, when: When): void {
  const store = (): Store & StalenessCapable => current() as Store & StalenessCapable;

  it(
    'isStale: absent and expired keys are stale, live ones are not',
    when('stale', async () => {
      assert.equal(await store().isStale('absent'), true);
      await store().set('short', bytes('s'), 40);
      await store().set('long', bytes('l'), 60_000);
      assert.equal(await store().isStale('long'), false);
      await sleep(150);
      assert.equal(await store().isStale('short'), true);
      assert.equal(await store().isStale('long'), false);
    }),
  );
}

function guardTests(it: It, current: () => Store, when: When, hasTags: () => boolean): void {
  const store = (): Store & GuardCapable => current() as Store & GuardCapable;

  it(
    'a guarded write is refused when one of its names was stamped after its load began',
    when('guard', async () => {
      await store().stampInvalidations(['k:a', 't:red'], 1_000, 60_000);
      assert.equal(await store().setUnlessInvalidated('a', bytes('old'), 60_000, undefined, ['k:a'], 999), false);
      assert.equal(await store().setUnlessInvalidated('a', bytes('old'), 60_000, ['red'], ['k:other', 't:red'], 999), false);
      assert.equal(await store().get('a'), undefined);
      // A stamp equal to the load's start is the invalidation the load already saw.
      assert.equal(await store().setUnlessInvalidated('a', bytes('new'), 60_000, ['red'], ['k:a', 't:red'], 1_000), true);
      assert.equal(await store().setUnlessInvalidated('b', bytes('b'), 60_000, undefined, ['k:b', 't:blue'], 0), true);
      assert.equal(text(await store().get('a')), 'new');
      assert.equal(text(await store().get('b')), 'b');
    }),
  );

  it(
    'a later stamp refuses a write that an earlier one allowed; a guarded write joins its tags',
    when('guard', async () => {
      assert.equal(await store().setUnlessInvalidated('g', bytes('1'), 60_000, ['blue'], ['k:g', 't:blue'], 500), true);
      await store().stampInvalidations(['t:blue'], 2_000, 60_000);
      assert.equal(await store().setUnlessInvalidated('g', bytes('2'), 60_000, ['blue'], ['k:g', 't:blue'], 1_500), false);
      assert.equal(text(await store().get('g')), '1');
      if (!hasTags()) return;
      const tagged = current() as Store & { deleteTags(tags: readonly string[]): Promise<number> };
      assert.equal(await tagged.deleteTags(['blue']), 1);
      assert.equal(await tagged.get('g'), undefined);
    }),
  );
}

function softTests(it: It, current: () => Store, when: When, has: () => Partial<Record<Has, boolean>> | undefined): void {
  const store = (): Store & SoftCapable => current() as Store & SoftCapable;

  it(
    'softDelete marks a live entry without removing its bytes; an absent key is not marked',
    when('soft', async () => {
      assert.equal(await store().getWithMark('k'), undefined);
      await store().set('k', bytes('v'), 60_000);
      const fresh = await store().getWithMark('k');
      assert.equal(text(fresh?.value), 'v');
      assert.equal(fresh?.softAt, undefined);
      assert.equal(await store().softDelete('k', 1_234), true);
      const marked = await store().getWithMark('k');
      assert.equal(text(marked?.value), 'v');
      assert.equal(marked?.softAt, 1_234);
      assert.equal(text(await store().get('k')), 'v');
      assert.equal(await store().softDelete('absent', 1_234), false);
      assert.equal(await store().getWithMark('absent'), undefined);
    }),
  );

  it(
    'softDeletePattern marks the matching entries only and counts them',
    when('soft', async () => {
      for (const key of ['character:1', 'character:2', 'content:1']) await store().set(key, bytes(key), 60_000);
      assert.equal(await store().softDeletePattern('character:*', 2_000), 2);
      assert.equal((await store().getWithMark('character:1'))?.softAt, 2_000);
      assert.equal((await store().getWithMark('character:2'))?.softAt, 2_000);
      const other = await store().getWithMark('content:1');
      assert.equal(text(other?.value), 'content:1');
      assert.equal(other?.softAt, undefined);
    }),
  );

  it(
    'softDeleteTags and softDeleteTagPattern mark the tagged entries; the indexes stay',
    when('soft', async () => {
      await store().set('a', bytes('a'), 60_000, ['character:1']);
      await store().set('b', bytes('b'), 60_000, ['character:2']);
      await store().set('c', bytes('c'), 60_000, ['content:1']);
      assert.equal(await store().softDeleteTags(['character:1'], 3_000), 1);
      assert.equal((await store().getWithMark('a'))?.softAt, 3_000);
      assert.equal((await store().getWithMark('b'))?.softAt, undefined);
      assert.equal(await store().softDeleteTagPattern('character:*', 4_000), 2);
      assert.equal((await store().getWithMark('b'))?.softAt, 4_000);
      assert.equal((await store().getWithMark('c'))?.softAt, undefined);
      if (has()?.tags !== true) return;
      // A later hard invalidation still finds the marked entries through their tags.
      const tagged = current() as Store & { deleteTags(tags: readonly string[]): Promise<number> };
      assert.equal(await tagged.deleteTags(['character:1']), 1);
      assert.equal(await store().getWithMark('a'), undefined);
    }),
  );
}
