/**
 * The L1 rows of the never-lost table, on two processes: instance A is this test process,
 * instance B a child process (fixtures/bus-process.ts); both have an L1 tier and the bus on one
 * private redis-server. A invalidates while Redis is frozen or dead; B must give no old answer
 * once Redis is back, and none from L1 once its bus says it may be missing messages.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Redis } from 'ioredis';
import { type Cache, RedisBus, RedisStore, createCache } from '../../lib';
import { newRedis } from '../helpers/redis';
import { type RedisServer, startRedisServer } from '../helpers/redis-server';
import { tierOf } from './helpers';

jest.setTimeout(60_000);

const ROOT = path.resolve(__dirname, '../..');
const FIXTURE = path.join(__dirname, 'fixtures', 'bus-process.ts');
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Child {
  process: ChildProcess;
  call(op: 'get' | 'holds', key: string): Promise<unknown>;
  /** Resolves when B's bus reports `state` (from now on). */
  bus(state: 'down' | 'up'): Promise<void>;
  stop(): Promise<void>;
}

async function startChild(url: string): Promise<Child> {
  const proc = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
    cwd: ROOT,
    env: { ...process.env, REDIS_URL: url, NAMESPACE: 'outage', KEY_PREFIX: '', OP_TIMEOUT_MS: '100' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr?.on('data', (data: Buffer) => (stderr += data.toString()));
  const pending = new Map<number, (value: unknown) => void>();
  const busWaiters = new Set<{ state: string; resolve: () => void }>();
  let readyResolve: () => void = () => undefined;
  const ready = new Promise<void>((resolve, reject) => {
    readyResolve = resolve;
    proc.once('exit', (code) => reject(new Error(`bus-process exited (${String(code)}): ${stderr.trim()}`)));
  });
  createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (text) => {
    let line: { ready?: boolean; event?: string; state?: string; id?: number; result?: unknown; error?: string };
    try {
      line = JSON.parse(text) as typeof line;
    } catch {
      return;
    }
    if (line.ready === true) readyResolve();
    if (line.event === 'bus') {
      for (const waiter of [...busWaiters]) {
        if (waiter.state !== line.state) continue;
        busWaiters.delete(waiter);
        waiter.resolve();
      }
    }
    if (line.id !== undefined) {
      pending.get(line.id)?.(line.error !== undefined ? new Error(line.error) : line.result);
      pending.delete(line.id);
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
        pending.set(id, (value) => (value instanceof Error ? reject(value) : resolve(value)));
        proc.stdin?.write(`${JSON.stringify({ id, op, key })}\n`);
      }),
    bus: (state) => new Promise((resolve) => busWaiters.add({ state, resolve })),
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((resolve) => proc.once('exit', resolve));
      proc.stdin?.end();
      const kill = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(kill);
    },
  };
}

let server: RedisServer | undefined;
let client: Redis | undefined;
let a: Cache | undefined;
let b: Child | undefined;

afterEach(async () => {
  if (server !== undefined) {
    try {
      process.kill(server.pid, 'SIGCONT');
    } catch {
      // Already gone.
    }
  }
  await b?.stop();
  await a?.close();
  client?.disconnect();
  await server?.stop();
  [server, client, a, b] = [undefined, undefined, undefined, undefined];
});

const OLD = { v: 1 };
const isOld = (answer: unknown): boolean => JSON.stringify(answer) === JSON.stringify(OLD);

/** A and B on a fresh Redis; B holds an L1 copy of the old answer. */
async function setUp(): Promise<{ a: Cache; b: Child; server: RedisServer }> {
  server = await startRedisServer();
  client = newRedis(server.url, { enableOfflineQueue: true, maxRetriesPerRequest: 1 });
  a = createCache({ store: new RedisStore({ client, operationTimeoutMs: 100 }), namespace: 'outage', l1: {} });
  a.on('error', () => undefined);
  await tierOf(a).ready();
  b = await startChild(server.url);
  await a.set('character:1', OLD, { ttl: 300, tags: ['character:1'] });
  // B keeps its copy once its read no longer races A's `set` message.
  for (let i = 0; i < 100 && (await b.call('holds', 'character:1')) !== true; i++) {
    expect(await b.call('get', 'character:1')).toEqual(OLD);
    await sleep(10);
  }
  expect(await b.call('holds', 'character:1')).toBe(true);
  return { a, b, server };
}

/** B's old answers from now until `until` (epoch ms), at least `reads` reads. */
async function oldAnswersUntil(child: Child, until: number, reads = 20): Promise<number> {
  let old = 0;
  for (let i = 0; i < reads || Date.now() < until; i++) {
    if (isOld(await child.call('get', 'character:1'))) old++;
    await sleep(10);
  }
  return old;
}

/** B's answers for `reads` reads (each a round trip to the child), counting old ones. */
async function oldAnswers(child: Child, reads: number, gapMs = 10): Promise<number> {
  let old = 0;
  for (let i = 0; i < reads; i++) {
    if (isOld(await child.call('get', 'character:1'))) old++;
    await sleep(gapMs);
  }
  return old;
}

test('Redis frozen while A invalidates: B gives no old answer once its bus is down, nor after Redis is back', async () => {
  const { a, b, server: frozen } = await setUp();
  const down = b.bus('down');
  const up = b.bus('up');
  process.kill(frozen.pid, 'SIGSTOP');
  const outageEnds = Date.now() + 3_000;
  await a.invalidateScope('character', '1');
  // B's bus notices the freeze by its heartbeat (until then, B cannot know of A's invalidation:
  // its copy answers for up to the heartbeat's bound); from then on its L1 copy is not served
  // (maxStaleMs 0), and its reads of the frozen Redis time out: misses. Frozen about 3 s.
  await down;
  const duringOutage = await oldAnswersUntil(b, outageEnds);
  process.kill(frozen.pid, 'SIGCONT');
  await up;
  const afterOutage = await oldAnswers(b, 150, 20);
  expect({ duringOutage, afterOutage }).toEqual({ duringOutage: 0, afterOutage: 0 });
});

test('Redis killed and restarted empty while A invalidates: B gives no old answer once Redis is back', async () => {
  const { a, b, server: first } = await setUp();
  const down = b.bus('down');
  const { port } = first;
  await first.stop();
  const outageEnds = Date.now() + 3_000;
  await a.invalidateScope('character', '1');
  await down;
  const duringOutage = await oldAnswersUntil(b, outageEnds);
  const up = b.bus('up');
  // The afterEach stops whichever server is current.
  server = await startRedisServer({ port });
  await up;
  const afterOutage = await oldAnswers(b, 150, 20);
  expect({ duringOutage, afterOutage }).toEqual({ duringOutage: 0, afterOutage: 0 });
});

test('a publish to a frozen Redis resolves false after its timeout (an awaited invalidation cannot hang on it)', async () => {
  server = await startRedisServer();
  client = newRedis(server.url, { enableOfflineQueue: true, maxRetriesPerRequest: 1 });
  const bus = new RedisBus(client, 'outage:__bus__', undefined, 100);
  const errors: Error[] = [];
  bus.on('error', ({ error }) => errors.push(error));
  try {
    await bus.ready();
    process.kill(server.pid, 'SIGSTOP');
    expect(await bus.publish({ kind: 'clear' })).toBe(false);
    expect(errors.map((error) => error.name)).toEqual(['StoreTimeoutError']);
  } finally {
    process.kill(server.pid, 'SIGCONT');
    await bus.close();
  }
});
