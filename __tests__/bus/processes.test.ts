/**
 * Two processes: this test process is instance A, a child process (fixtures/bus-process.ts, run
 * with `node --import tsx`) is instance B; both have an L1 tier and the bus on one private
 * redis-server. A write or invalidation on A is seen by B's next read once B heard the message.
 * Every wait is on a line B prints, never a sleep.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Redis } from 'ioredis';
import { type Cache, RedisStore, createCache } from '../../lib';
import type { InvalidationMessage } from '../../lib/bus/message';
import { newRedis } from '../helpers/redis';
import { type RedisServer, startRedisServer } from '../helpers/redis-server';
import { tierOf } from './helpers';

jest.setTimeout(60_000);

const ROOT = path.resolve(__dirname, '../..');
const FIXTURE = path.join(__dirname, 'fixtures', 'bus-process.ts');

interface Line {
  ready?: boolean;
  event?: 'message';
  message?: InvalidationMessage;
  id?: number;
  result?: unknown;
  error?: string;
}

/** Instance B: its process, a request function and a way to wait for the messages it heard. */
interface Child {
  process: ChildProcess;
  call(op: 'get' | 'holds', key: string): Promise<unknown>;
  heard(accept: (message: InvalidationMessage) => boolean): Promise<InvalidationMessage>;
}

let server: RedisServer;
let client: Redis;
let a: Cache;
let child: Child | undefined;

async function startChild(): Promise<Child> {
  const proc = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
    cwd: ROOT,
    env: { ...process.env, REDIS_URL: server.url, NAMESPACE: 'procs', KEY_PREFIX: 'p:' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr?.on('data', (data: Buffer) => (stderr += data.toString()));
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  const waiters = new Set<{ accept: (message: InvalidationMessage) => boolean; resolve: (message: InvalidationMessage) => void }>();
  let readyResolve: () => void = () => undefined;
  const ready = new Promise<void>((resolve, reject) => {
    readyResolve = resolve;
    proc.once('exit', (code) => reject(new Error(`bus-process exited (${String(code)}): ${stderr.trim()}`)));
  });
  createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (text) => {
    let line: Line;
    try {
      line = JSON.parse(text) as Line;
    } catch {
      return;
    }
    if (line.ready === true) readyResolve();
    if (line.event === 'message' && line.message !== undefined) {
      for (const waiter of [...waiters]) {
        if (!waiter.accept(line.message)) continue;
        waiters.delete(waiter);
        waiter.resolve(line.message);
      }
    }
    if (line.id !== undefined) {
      const request = pending.get(line.id);
      pending.delete(line.id);
      if (line.error !== undefined) request?.reject(new Error(line.error));
      else request?.resolve(line.result);
    }
  });
  const timeout = setTimeout(() => proc.kill('SIGKILL'), 30_000);
  await ready;
  clearTimeout(timeout);
  let next = 0;
  return {
    process: proc,
    call: (op, key) =>
      new Promise((resolve, reject) => {
        const id = next++;
        pending.set(id, { resolve, reject });
        proc.stdin?.write(`${JSON.stringify({ id, op, key })}\n`);
      }),
    heard: (accept) => new Promise((resolve) => waiters.add({ accept, resolve })),
  };
}

beforeAll(async () => {
  server = await startRedisServer();
  client = newRedis(server.url, { keyPrefix: 'p:', enableOfflineQueue: true, maxRetriesPerRequest: 1 });
  a = createCache({ store: new RedisStore({ client, operationTimeoutMs: 2_000 }), namespace: 'procs', l1: {} });
  await tierOf(a).ready();
  child = await startChild();
});
afterAll(async () => {
  if (child !== undefined && child.process.exitCode === null) {
    const exited = new Promise((resolve) => child?.process.once('exit', resolve));
    child.process.stdin?.end();
    await exited;
  }
  await a.close();
  client.disconnect();
  await server.stop();
});

test('a write on A is seen by B’s next read once B heard it; then B answers from its L1', async () => {
  const b = child as Child;
  let heard = b.heard((message) => message.kind === 'set');
  await a.set('character:1', 'v1', { tags: ['team:blue'] });
  await heard;
  expect(await b.call('get', 'character:1')).toBe('v1');
  expect(await b.call('holds', 'character:1')).toBe(true);

  heard = b.heard((message) => message.kind === 'set');
  await a.set('character:1', 'v2', { tags: ['team:blue'] });
  expect(await heard).toEqual({ kind: 'set', keys: ['procs:character:1'], tags: ['procs:team:blue'] });
  expect(await b.call('holds', 'character:1')).toBe(false);
  expect(await b.call('get', 'character:1')).toBe('v2');
});

test('an invalidation on A (tags, scope) drops B’s copy: B’s next read misses', async () => {
  const b = child as Child;
  let heard = b.heard((message) => message.kind === 'set');
  await a.set('character:2', 'two', { tags: ['team:red'] });
  await heard;
  expect(await b.call('get', 'character:2')).toBe('two');
  expect(await b.call('holds', 'character:2')).toBe(true);

  heard = b.heard((message) => message.kind === 'invalidate');
  await a.invalidateTags(['team:red']);
  await heard;
  expect(await b.call('holds', 'character:2')).toBe(false);
  expect(await b.call('get', 'character:2')).toBeNull();

  heard = b.heard((message) => message.kind === 'set');
  await a.set('content:9', 'post');
  await heard;
  expect(await b.call('get', 'content:9')).toBe('post');
  heard = b.heard((message) => message.kind === 'invalidate' && message.tags !== undefined);
  await a.invalidateScope('content', 9);
  await heard;
  expect(await b.call('holds', 'content:9')).toBe(false);
  expect(await b.call('get', 'content:9')).toBeNull();
});
