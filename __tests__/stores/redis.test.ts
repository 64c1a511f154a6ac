import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { InvalidOptionError, RedisStore } from '../../lib';
import { testRedisClient, testRedisUrl } from '../helpers/redis';
import { runStoreContract } from '../../lib/testing';
import { ALL_CAPABILITIES, JEST } from './contract-api';

const clients: Redis[] = [];
afterAll(async () => {
  await Promise.all(clients.map((client) => client.quit()));
});

runStoreContract(JEST, 'RedisStore (caller-owned client with keyPrefix)', async () => {
  const client = testRedisClient();
  clients.push(client);
  // A generous timeout: other suites (the 100,000-key invalidation test among them) share this server.
  return new RedisStore({ client, operationTimeoutMs: 2_000 });
}, { capabilities: ALL_CAPABILITIES });

runStoreContract(JEST, 'RedisStore (from url)', async () => {
  // A database of its own: a store built from a URL has no key prefix, so it must not share keys.
  const store = new RedisStore({ url: `${testRedisUrl()}/7`, operationTimeoutMs: 2_000 });
  await store.ready();
  await store.clear();
  return store;
}, { capabilities: ALL_CAPABILITIES });

describe('RedisStore', () => {
  test('pattern deletes honour the client keyPrefix and leave other prefixes alone', async () => {
    const mine = testRedisClient({ keyPrefix: 'prefix-a:' });
    const theirs = testRedisClient({ keyPrefix: 'prefix-b:' });
    clients.push(mine, theirs);
    const store = new RedisStore({ client: mine, operationTimeoutMs: 2_000 });
    await theirs.set('character:1', 'theirs');
    await store.set('character:1', Buffer.from('mine'), 60_000);
    expect(await mine.get('character:1')).toBe('mine'); // stored under the prefix
    expect(await store.deletePattern('character:*')).toBe(1);
    expect(await theirs.get('character:1')).toBe('theirs');
    await store.close();
    expect(mine.status).toBe('ready'); // a caller's client is never closed by the store
    await theirs.del('character:1');
  });

  test('writes are one SET with PX: the TTL is set atomically', async () => {
    const client = testRedisClient();
    clients.push(client);
    const store = new RedisStore({ client, operationTimeoutMs: 2_000 });
    await store.set('ttl', Buffer.from('v'), 30_000);
    const pttl = await client.pttl('ttl');
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(30_000);
  });

  test('a tag index lives under the keyPrefix at __tag__:<tag>, outlives its longest member, and holds raw key names', async () => {
    const client = testRedisClient();
    clients.push(client);
    const store = new RedisStore({ client, operationTimeoutMs: 2_000 });
    await store.set('ns:character:1', Buffer.from('a'), 30_000, ['ns:character:1']);
    await store.set('ns:api:character:x', Buffer.from('b'), 120_000, ['ns:character:1']);
    await store.set('ns:character:1:stats', Buffer.from('c'), 10_000, ['ns:character:1']);
    const index = '__tag__:ns:character:1';
    expect(await client.pttl(index)).toBeGreaterThan(60_000); // covers the 120 s member, not the last 10 s one
    expect((await client.smembers(index)).sort()).toEqual(
      ['ns:api:character:x', 'ns:character:1', 'ns:character:1:stats'].map((key) => client.options.keyPrefix + key).sort(),
    );
    // Entry patterns never reach the index, even one as wide as `*`.
    expect(await store.deletePattern('ns:character:*')).toBe(2);
    expect(await client.exists(index)).toBe(1);
    expect(await store.deleteTags(['ns:character:1'])).toBe(1);
    expect(await client.exists(index)).toBe(0);
  });

  test('tagged writes prune members whose entries are gone, so an index tracks its live size', async () => {
    const client = testRedisClient();
    clients.push(client);
    const store = new RedisStore({ client, operationTimeoutMs: 2_000 });
    await Promise.all(Array.from({ length: 100 }, (_, i) => store.set(`gone:${i}`, Buffer.from('v'), 30, ['t'])));
    await new Promise((resolve) => setTimeout(resolve, 100));
    for (let i = 0; i < 200; i++) await store.set(`live:${i}`, Buffer.from('v'), 60_000, ['t']);
    // Each write samples two members: with 100 dead ones to find, far more than 50 go.
    expect(await client.scard('__tag__:t')).toBeLessThanOrEqual(250);
    expect(await store.deleteTags(['t'])).toBe(200);
  });

  test('deleteTags works on a caller client without autopipelining after a SCRIPT FLUSH', async () => {
    const client = testRedisClient();
    clients.push(client);
    const store = new RedisStore({ client, operationTimeoutMs: 2_000 });
    await client.script('FLUSH');
    await store.set('k', Buffer.from('v'), 60_000, ['t']);
    await client.script('FLUSH');
    expect(await store.deleteTags(['t'])).toBe(1);
  });

  test('options are validated at construction, naming the option', () => {
    expect(() => new RedisStore({})).toThrow(InvalidOptionError);
    expect(() => new RedisStore({ url: 'http://x' })).toThrow(/option "url"/);
    expect(() => new RedisStore({ url: testRedisUrl(), operationTimeoutMs: 0 })).toThrow(/operationTimeoutMs/);
    expect(() => new RedisStore({ client: {} as Redis })).toThrow(/option "client"/);
  });

  test('no Redis command in lib/ uses KEYS', () => {
    const files: string[] = [];
    const walk = (dir: string): void => {
      for (const name of readdirSync(dir)) {
        const full = path.join(dir, name);
        if (statSync(full).isDirectory()) walk(full);
        else if (full.endsWith('.ts')) files.push(full);
      }
    };
    walk(path.join(__dirname, '../../lib'));
    expect(files.length).toBeGreaterThan(5);
    for (const file of files) {
      const code = readFileSync(file, 'utf8');
      // The quoted command name is matched in capitals only: option names such as 'keys' are not commands.
      const hit = /\.keys\(\s*['"`]|call\(\s*['"`]keys/i.test(code) || /['"`]KEYS['"`]/.test(code);
      expect({ file, hit }).toEqual({ file, hit: false });
    }
  });
});
