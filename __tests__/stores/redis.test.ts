import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { InvalidOptionError, RedisStore } from '../../lib';
import { testRedisClient, testRedisUrl } from '../helpers/redis';
import { runStoreContract } from './contract';

const clients: Redis[] = [];
afterAll(async () => {
  await Promise.all(clients.map((client) => client.quit()));
});

runStoreContract('RedisStore (caller-owned client with keyPrefix)', async () => {
  const client = testRedisClient();
  clients.push(client);
  return new RedisStore({ client });
});

runStoreContract('RedisStore (from url)', async () => {
  // A database of its own: a store built from a URL has no key prefix, so it must not share keys.
  const store = new RedisStore({ url: `${testRedisUrl()}/7`, operationTimeoutMs: 2_000 });
  await store.ready();
  await store.clear();
  return store;
});

describe('RedisStore', () => {
  test('pattern deletes honour the client keyPrefix and leave other prefixes alone', async () => {
    const mine = testRedisClient({ keyPrefix: 'prefix-a:' });
    const theirs = testRedisClient({ keyPrefix: 'prefix-b:' });
    clients.push(mine, theirs);
    const store = new RedisStore({ client: mine });
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
    const store = new RedisStore({ client });
    await store.set('ttl', Buffer.from('v'), 30_000);
    const pttl = await client.pttl('ttl');
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(30_000);
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
