import { randomBytes } from 'node:crypto';
import { StoreClosedError } from '../../lib';
import type { FullStore } from '../../lib';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const bytes = (text: string): Buffer => Buffer.from(text);

/**
 * The contract every Store adapter passes. `makeStore` returns a fresh, empty store; the suite
 * closes each one after its test.
 */
export function runStoreContract(label: string, makeStore: () => Promise<FullStore>): void {
  describe(`Store contract: ${label}`, () => {
    let store: FullStore;
    beforeEach(async () => {
      store = await makeStore();
    });
    afterEach(async () => {
      await store.close();
    });

    test('get of an absent key is undefined', async () => {
      expect(await store.get('absent')).toBeUndefined();
    });

    test('set then get returns the same bytes; set replaces', async () => {
      await store.set('k', bytes('one'), 60_000);
      expect((await store.get('k'))?.toString()).toBe('one');
      await store.set('k', bytes('two'), 60_000);
      expect((await store.get('k'))?.toString()).toBe('two');
    });

    test('delete reports whether something was removed', async () => {
      await store.set('k', bytes('v'), 60_000);
      expect(await store.delete('k')).toBe(true);
      expect(await store.get('k')).toBeUndefined();
      expect(await store.delete('k')).toBe(false);
    });

    test('entries expire after their TTL and live until then', async () => {
      await store.set('short', bytes('v'), 40);
      await store.set('long', bytes('v'), 60_000);
      await sleep(150);
      expect(await store.get('short')).toBeUndefined();
      expect((await store.get('long'))?.toString()).toBe('v');
    });

    test('deletePattern removes matching keys only and counts them', async () => {
      for (const key of ['character:1', 'character:2', 'character:1:stats', 'content:1', 'api:character:x']) {
        await store.set(key, bytes(key), 60_000);
      }
      expect(await store.deletePattern('character:*')).toBe(3);
      expect(await store.get('character:1')).toBeUndefined();
      expect(await store.get('character:1:stats')).toBeUndefined();
      expect((await store.get('content:1'))?.toString()).toBe('content:1');
      expect((await store.get('api:character:x'))?.toString()).toBe('api:character:x');
      expect(await store.deletePattern('nothing:*')).toBe(0);
    });

    test('deletePattern honours escaped glob characters and ? and [..]', async () => {
      await store.set('id:a*', bytes('star'), 60_000);
      await store.set('id:ab', bytes('ab'), 60_000);
      await store.set('id:ac', bytes('ac'), 60_000);
      expect(await store.deletePattern('id:a\\*')).toBe(1);
      expect((await store.get('id:ab'))?.toString()).toBe('ab');
      expect(await store.deletePattern('id:a[b]')).toBe(1);
      expect(await store.deletePattern('id:a?')).toBe(1);
      expect(await store.get('id:ac')).toBeUndefined();
    });

    test('deletePattern walks more keys than one scan batch', async () => {
      for (let batch = 0; batch < 10; batch++) {
        await Promise.all(Array.from({ length: 250 }, (_, i) => store.set(`bulk:${batch * 250 + i}`, bytes('x'), 60_000)));
      }
      await store.set('keep', bytes('x'), 60_000);
      expect(await store.deletePattern('bulk:*')).toBe(2_500);
      expect(await store.get('bulk:0')).toBeUndefined();
      expect(await store.get('keep')).toBeDefined();
    });

    test('deleteTags removes the tagged entries only, counts them, and drops the index', async () => {
      await store.set('character:1', bytes('1'), 60_000, ['character:1', 'team:a']);
      await store.set('api:character:x', bytes('x'), 60_000, ['character:1']);
      await store.set('character:2', bytes('2'), 60_000, ['character:2', 'team:a']);
      await store.set('untagged', bytes('u'), 60_000);
      expect(await store.deleteTags(['character:1'])).toBe(2);
      expect(await store.get('character:1')).toBeUndefined();
      expect(await store.get('api:character:x')).toBeUndefined();
      expect((await store.get('character:2'))?.toString()).toBe('2');
      expect((await store.get('untagged'))?.toString()).toBe('u');
      // The index went with its members: deleting the tag again finds nothing.
      expect(await store.deleteTags(['character:1'])).toBe(0);
      // The other tag of a removed entry still reaches its remaining member.
      expect(await store.deleteTags(['team:a', 'never-used'])).toBe(1);
      expect(await store.get('character:2')).toBeUndefined();
    });

    test('a tag does not shorten an entry, and expired members are not counted', async () => {
      await store.set('short', bytes('s'), 40, ['t']);
      await store.set('long', bytes('l'), 60_000, ['t']);
      await sleep(150);
      expect(await store.get('short')).toBeUndefined();
      expect((await store.get('long'))?.toString()).toBe('l');
      expect(await store.deleteTags(['t'])).toBe(1);
      expect(await store.get('long')).toBeUndefined();
    });

    test('deleteTags removes more members than one batch', async () => {
      for (let batch = 0; batch < 10; batch++) {
        await Promise.all(Array.from({ length: 250 }, (_, i) => store.set(`bulk:${batch * 250 + i}`, bytes('x'), 60_000, ['bulk'])));
      }
      await store.set('keep', bytes('x'), 60_000, ['other']);
      expect(await store.deleteTags(['bulk'])).toBe(2_500);
      expect(await store.get('bulk:0')).toBeUndefined();
      expect(await store.get('bulk:2499')).toBeUndefined();
      expect(await store.get('keep')).toBeDefined();
    });

    test('deleteTagPattern removes the tags whose names match, honouring escapes', async () => {
      await store.set('a', bytes('a'), 60_000, ['character:a*']);
      await store.set('b', bytes('b'), 60_000, ['character:ab']);
      await store.set('c', bytes('c'), 60_000, ['content:1']);
      expect(await store.deleteTagPattern('character:a\\*')).toBe(1);
      expect(await store.get('a')).toBeUndefined();
      expect((await store.get('b'))?.toString()).toBe('b');
      expect(await store.deleteTagPattern('character:*')).toBe(1);
      expect((await store.get('c'))?.toString()).toBe('c');
      expect(await store.deleteTagPattern('nothing:*')).toBe(0);
    });

    test('deletePattern never counts or drops tag indexes', async () => {
      await store.set('x:1', bytes('1'), 60_000, ['t']);
      await store.set('x:2', bytes('2'), 60_000);
      expect(await store.deletePattern('*')).toBe(2);
      // The index survived: a later member is still reachable through the tag.
      await store.set('x:3', bytes('3'), 60_000, ['t']);
      expect(await store.deleteTags(['t'])).toBe(1);
      expect(await store.get('x:3')).toBeUndefined();
    });

    test('concurrent tagged writers and a tag delete leave no tagged entry behind', async () => {
      await Promise.all(Array.from({ length: 100 }, (_, i) => store.set(`c:${i}`, bytes('v'), 60_000, ['c'])));
      await Promise.all([
        store.deleteTags(['c']),
        ...Array.from({ length: 100 }, (_, i) => store.set(`c:${100 + i}`, bytes('v'), 60_000, ['c'])),
      ]);
      // Whatever interleaving happened, every entry still present is reachable from its tag.
      await store.deleteTags(['c']);
      const left = await Promise.all(Array.from({ length: 200 }, (_, i) => store.get(`c:${i}`)));
      expect(left.filter((v) => v !== undefined)).toEqual([]);
    });

    test('clear removes everything the store holds, tags included', async () => {
      await store.set('a', bytes('1'), 60_000);
      await store.set('b', bytes('2'), 60_000, ['t']);
      await store.clear();
      expect(await store.get('a')).toBeUndefined();
      expect(await store.get('b')).toBeUndefined();
      expect(await store.deleteTags(['t'])).toBe(0);
    });

    test('binary values round-trip byte for byte', async () => {
      const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      await store.set('bin', all, 60_000);
      expect((await store.get('bin'))?.equals(all)).toBe(true);
    });

    test('large values (2 MiB) round-trip', async () => {
      const large = randomBytes(2 * 1024 * 1024);
      await store.set('large', large, 60_000);
      expect((await store.get('large'))?.equals(large)).toBe(true);
    });

    test('the stored value does not change when the caller reuses its buffer', async () => {
      const buffer = bytes('original');
      await store.set('k', buffer, 60_000);
      buffer.write('mutated!');
      expect((await store.get('k'))?.toString()).toBe('original');
    });

    test('concurrent writers: every key lands, and a contended key holds one of the written values', async () => {
      await Promise.all(Array.from({ length: 200 }, (_, i) => store.set(`w:${i}`, bytes(String(i)), 60_000)));
      const values = await Promise.all(Array.from({ length: 200 }, (_, i) => store.get(`w:${i}`)));
      expect(values.map((v) => v?.toString())).toEqual(Array.from({ length: 200 }, (_, i) => String(i)));

      const written = Array.from({ length: 50 }, (_, i) => `v${i}`);
      await Promise.all(written.map((v) => store.set('contended', bytes(v), 60_000)));
      expect(written).toContain((await store.get('contended'))?.toString());
    });

    test('after close every operation rejects with StoreClosedError', async () => {
      await store.close();
      await expect(store.get('k')).rejects.toBeInstanceOf(StoreClosedError);
      await expect(store.set('k', bytes('v'), 1_000)).rejects.toBeInstanceOf(StoreClosedError);
      await expect(store.delete('k')).rejects.toBeInstanceOf(StoreClosedError);
      await expect(store.deletePattern('*')).rejects.toBeInstanceOf(StoreClosedError);
      await expect(store.set('k', bytes('v'), 1_000, ['t'])).rejects.toBeInstanceOf(StoreClosedError);
      await expect(store.deleteTags(['t'])).rejects.toBeInstanceOf(StoreClosedError);
      await expect(store.deleteTagPattern('*')).rejects.toBeInstanceOf(StoreClosedError);
      await expect(store.close()).resolves.toBeUndefined();
    });
  });
}
