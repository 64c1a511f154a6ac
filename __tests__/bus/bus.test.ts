/**
 * The invalidation bus on a standalone redis-server: two caches in one process, each with its
 * own subscriber connection, sharing one namespace. A private server: the tests kill pub/sub
 * clients and read INFO commandstats, which would disturb suites sharing the run's server.
 * Every wait is on a bus event, never a sleep.
 */
import type { Redis } from 'ioredis';
import { type Cache, RedisStore, createCache } from '../../lib';
import { newRedis } from '../helpers/redis';
import { type RedisServer, startRedisServer } from '../helpers/redis-server';
import { nextBusEvent, nextMessage, tierOf } from './helpers';

jest.setTimeout(30_000);

let server: RedisServer;
let admin: Redis;
const clients: Redis[] = [];
const caches: Cache[] = [];

beforeAll(async () => {
  server = await startRedisServer();
  admin = newRedis(server.url);
});
afterEach(async () => {
  await Promise.all(caches.splice(0).map((cache) => cache.close()));
});
afterAll(async () => {
  await Promise.all(clients.map((client) => client.quit().catch(() => undefined)));
  admin.disconnect();
  await server.stop();
});

function client(keyPrefix = 'bus:'): Redis {
  const created = newRedis(server.url, { keyPrefix, enableOfflineQueue: true, maxRetriesPerRequest: 1 });
  clients.push(created);
  return created;
}

/** A cache with L1 and a bus; `subscriber` given or (default) duplicated from the store's client. */
async function instance(namespace: string, subscriber?: Redis, keyPrefix?: string): Promise<Cache> {
  const cache = createCache({
    store: new RedisStore({ client: client(keyPrefix), operationTimeoutMs: 2_000 }),
    namespace,
    l1: {},
    bus: subscriber === undefined ? undefined : { subscriber },
  });
  caches.push(cache);
  await tierOf(cache).ready();
  return cache;
}

/** `a.set(...)`, resolved once `b` heard it (the set message drops b's copy, whenever it lands). */
async function setHeard(a: Cache, b: Cache, key: string, value: unknown, tags?: string[]): Promise<void> {
  const heard = nextMessage(b, (message) => message.kind === 'set' && message.keys?.[0] === `${a.namespacePrefix}${key}`);
  await a.set(key, value, { tags });
  await heard;
}

async function commandCount(): Promise<number> {
  const info = await admin.info('commandstats');
  let total = 0;
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) if (match[1] !== 'info') total += Number(match[2]);
  return total;
}

test('a write on A drops B’s copy: B’s next read sees the new value', async () => {
  const a = await instance('app');
  const b = await instance('app', client('sub:'));
  await setHeard(a, b, 'character:1', 'v1');
  expect(await b.get('character:1')).toBe('v1');
  expect(tierOf(b).holds('app:character:1')).toBe(true);

  const heard = nextMessage(b);
  await a.set('character:1', 'v2');
  expect(await heard).toEqual({ kind: 'set', keys: ['app:character:1'], tags: [] });
  expect(tierOf(b).holds('app:character:1')).toBe(false);
  expect(await b.get('character:1')).toBe('v2');
});

test('tags, patterns, scopes and deletes on A drop B’s copies (and the Redis entries)', async () => {
  const a = await instance('app');
  const b = await instance('app');
  const fill = async (): Promise<void> => {
    await setHeard(a, b, 'character:1', 'one', ['team:blue']);
    await setHeard(a, b, 'api:character:x', 'answer', ['character:7']);
    await setHeard(a, b, 'content:1', 'post');
    for (const key of ['character:1', 'api:character:x', 'content:1']) expect(await b.get(key)).toBeDefined();
    expect(tierOf(b).size).toBe(3);
  };
  const invalidated = (): Promise<unknown> => nextMessage(b, (message) => message.kind === 'invalidate');

  await fill();
  let heard = invalidated();
  await a.invalidateTags(['team:blue']);
  await heard;
  expect(tierOf(b).holds('app:character:1')).toBe(false);
  // B learnt the tags from A's set messages: an unrelated tag kept its copies.
  expect(tierOf(b).holds('app:content:1')).toBe(true);
  expect(await b.get('character:1')).toBeUndefined();

  heard = invalidated();
  await a.invalidatePattern('content:*');
  await heard;
  expect(tierOf(b).holds('app:content:1')).toBe(false);

  await fill();
  // A scope is a delete, a pattern and a tag: wait for the tag message, the last one.
  heard = nextMessage(b, (message) => message.tags !== undefined && message.kind === 'invalidate');
  await a.invalidateScope('character', 7);
  await heard;
  expect(tierOf(b).holds('app:api:character:x')).toBe(false);
  expect(await b.get('api:character:x')).toBeUndefined();

  heard = invalidated();
  await a.delete('content:1');
  await heard;
  expect(tierOf(b).holds('app:content:1')).toBe(false);

  // A namespaced clear is a pattern and a tag pattern over the namespace.
  heard = nextMessage(b, (message) => message.tagPatterns !== undefined);
  await a.clear();
  await heard;
  expect(tierOf(b).size).toBe(0);
});

test('messages carry names, never values; an instance ignores its own; other namespaces do not hear them', async () => {
  const a = await instance('app');
  const b = await instance('app');
  const other = await instance('other');
  const raw = client();
  const own: unknown[] = [];
  tierOf(a).bus?.on('message', (message) => own.push(message));
  const heardByOther: unknown[] = [];
  tierOf(other).bus?.on('message', (message) => heardByOther.push(message));
  const texts: string[] = [];
  raw.on('message', (_channel: string, text: string) => texts.push(text));
  // The channel is the client's keyPrefix, the namespace and `__bus__` (inside the namespace, for ACLs).
  expect(tierOf(a).bus).toBeDefined();
  await raw.subscribe('bus:app:__bus__');

  const heard = nextMessage(b);
  await a.set('secret', 'hunter2-value');
  await heard;
  await raw.unsubscribe();
  expect(texts).toHaveLength(1);
  expect(texts[0]).toContain('app:secret');
  expect(texts[0]).not.toContain('hunter2');
  expect(own).toEqual([]);
  expect(heardByOther).toEqual([]);
});

test('a bus disconnect (CLIENT KILL TYPE pubsub) clears L1; it refills from Redis once the bus is back', async () => {
  const a = await instance('app');
  const b = await instance('app');
  await setHeard(a, b, 'character:1', 'v1');
  expect(await b.get('character:1')).toBe('v1');
  expect(tierOf(b).holds('app:character:1')).toBe(true);

  const down = nextBusEvent(b, 'down');
  const up = nextBusEvent(b, 'up');
  await admin.client('KILL', 'TYPE', 'pubsub');
  await down;
  expect(tierOf(b).busState).toBe('down');
  await up;
  expect(tierOf(b).size).toBe(0);

  const before = await commandCount();
  expect(await b.get('character:1')).toBe('v1');
  expect(await commandCount()).toBeGreaterThan(before); // read from Redis
  expect(tierOf(b).holds('app:character:1')).toBe(true);
});

test('a remote invalidation reaches the stale-write guard: B’s load in flight is not stored', async () => {
  const a = await instance('app');
  const b = await instance('app');
  let release: (value: string) => void = () => undefined;
  const gate = new Promise<string>((resolve) => (release = resolve));
  let started: () => void = () => undefined;
  const loading = new Promise<void>((resolve) => (started = resolve));
  const wrapped = b.wrap('character:9', async () => {
    started();
    return gate;
  });
  await loading;
  const heard = nextMessage(b);
  await a.delete('character:9');
  await heard;
  release('loaded before the invalidation');
  expect(await wrapped).toBe('loaded before the invalidation');
  expect(tierOf(b).holds('app:character:9')).toBe(false);
  expect(await a.get('character:9')).toBeUndefined();
});

test('an instance that could not publish sends a clear once it can, so peers drop what it invalidated meanwhile', async () => {
  const aClient = newRedis(server.url, { keyPrefix: 'bus:', enableOfflineQueue: false, maxRetriesPerRequest: 0 });
  clients.push(aClient);
  await new Promise<void>((resolve) => aClient.once('ready', () => resolve()));
  const a = createCache({ store: new RedisStore({ client: aClient, operationTimeoutMs: 2_000 }), namespace: 'app', l1: {} });
  caches.push(a);
  await tierOf(a).ready();
  const b = await instance('app');
  await setHeard(a, b, 'character:1', 'one');
  await setHeard(a, b, 'character:2', 'two');
  expect(await b.get('character:1')).toBe('one');
  expect(await b.get('character:2')).toBe('two');
  expect(tierOf(b).size).toBe(2);

  // A's command connection (its store and its publisher) goes away; its bus subscriber stays.
  const ended = new Promise<void>((resolve) => aClient.once('end', () => resolve()));
  // The failure is expected, so heard here (unheard, it would also be a process warning).
  const failed: string[] = [];
  a.on('error', ({ operation }) => failed.push(operation));
  aClient.disconnect();
  await ended;
  expect(await a.delete('character:1')).toBe(false); // journaled: the store could not take it
  expect(failed).toContain('delete');
  expect(tierOf(b).holds('app:character:1')).toBe(true); // B never heard of it

  await aClient.connect();
  const cleared = nextMessage(b, (message) => message.kind === 'clear');
  await a.set('character:3', 'three');
  await cleared;
  expect(tierOf(b).holds('app:character:1')).toBe(false);
  expect(tierOf(b).holds('app:character:2')).toBe(false);
});
