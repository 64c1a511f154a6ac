/**
 * Resilience across real processes: each app instance is its own Node process
 * (fixtures/app-process.ts, run with `node --import tsx`) and the instances share one real
 * redis-server, as they would behind a load balancer. These tests assert counts and statuses,
 * never durations.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { type RedisServer, startRedisServer } from '../helpers/redis-server';
import { testRedisUrl } from '../helpers/redis';
import { report } from '../helpers/report';

const ROOT = path.resolve(__dirname, '../..');
const FIXTURE = path.join(__dirname, 'fixtures', 'app-process.ts');

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Stats {
  name: string;
  origin: number;
  heapUsed: number;
  rss: number;
  offlineQueue: number | null;
  commandQueue: number | null;
  redisStatus: string;
  gcExposed: boolean;
  errors: number;
  degraded: number;
  recovered: number;
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One GET over `agent`; rejects on a socket error or after `timeoutMs` without an answer. */
function get(port: number, urlPath: string, agent: http.Agent, timeoutMs = 20_000): Promise<Answer> {
  return new Promise((resolve, reject) => {
    // One Host whatever the port: the key covers it, and a restarted app listens on a new one.
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent, headers: { host: '127.0.0.1' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET ${urlPath} on :${port}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

const children = new Set<ChildProcess>();
const redisServers = new Set<RedisServer>();
const agents = new Set<http.Agent>();

function agent(maxSockets: number): http.Agent {
  const created = new http.Agent({ keepAlive: true, maxSockets });
  agents.add(created);
  return created;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await exited(child);
  children.delete(child);
}

async function privateRedis(port?: number): Promise<RedisServer> {
  const server = await startRedisServer({ port });
  redisServers.add(server);
  return server;
}

// Whatever a test did (or failed to do), no app process, server or socket outlives it.
afterEach(async () => {
  for (const created of agents) created.destroy();
  agents.clear();
  await Promise.all([...children].map(kill));
  await Promise.all([...redisServers].map((server) => server.stop()));
  redisServers.clear();
});

interface App {
  name: string;
  port: number;
  child: ChildProcess;
  stats(gc?: boolean): Promise<Stats>;
}

/** Starts one app process and resolves once it listens (it prints its port when Redis is ready). */
async function startApp(name: string, env: Record<string, string>, options: { exposeGc?: boolean } = {}): Promise<App> {
  const args = [...(options.exposeGc ? ['--expose-gc'] : []), '--import', 'tsx', FIXTURE];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, NAME: name, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.add(child);
  let stderr = '';
  child.stderr?.on('data', (data: Buffer) => (stderr += data.toString()));
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  let timer: NodeJS.Timeout | undefined;
  try {
    const port = await new Promise<number>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`app ${name} did not start within 20 s: ${stderr.trim()}`)), 20_000);
      lines.once('line', (line) => {
        let parsed: { port?: unknown } = {};
        try {
          parsed = JSON.parse(line) as { port?: unknown };
        } catch {
          // reported below with the line itself
        }
        if (typeof parsed.port === 'number') resolve(parsed.port);
        else reject(new Error(`app ${name} printed ${line}`));
      });
      child.once('exit', (code, signal) => reject(new Error(`app ${name} exited (${code ?? signal}) before listening: ${stderr.trim()}`)));
    });
    const statsAgent = agent(2);
    return {
      name,
      port,
      child,
      stats: async (gc = false) => JSON.parse((await get(port, gc ? '/stats?gc=1' : '/stats', statsAgent)).body) as Stats,
    };
  } finally {
    clearTimeout(timer);
    lines.close();
    // Keep draining: a child blocked on a full stdout pipe would stop answering.
    child.stdout?.resume();
  }
}

/**
 * Keeps `concurrency` requests in flight per app, spread over `urls` distinct URLs, until
 * `done()` says so (or `maxRequests` per worker, so it always ends). Counts answers by status;
 * a request that failed outright counts under its error message.
 */
async function runLoad(apps: App[], options: { concurrency: number; urls: number; done: () => boolean; maxRequests?: number }): Promise<Map<string, number>> {
  const outcomes = new Map<string, number>();
  const count = (outcome: string): void => void outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  const maxRequests = options.maxRequests ?? 100_000;
  const workers = apps.flatMap((app) => {
    const pool = agent(options.concurrency);
    return Array.from({ length: options.concurrency }, async (_, w) => {
      for (let n = 0; n < maxRequests && !options.done(); n++) {
        try {
          const answer = await get(app.port, `/data?i=${(w * 7 + n) % options.urls}`, pool);
          count(String(answer.status));
        } catch (error) {
          count(error instanceof Error ? error.message : String(error));
        }
      }
    });
  });
  await Promise.all(workers);
  return outcomes;
}

/** Polls until `check` holds (at most `attempts` times); resolves whether it did. */
async function eventually(check: () => Promise<boolean>, attempts = 200, intervalMs = 50): Promise<boolean> {
  for (let i = 0; i < attempts; i++) {
    if (await check()) return true;
    await sleep(intervalMs);
  }
  return false;
}

/** Raw names of the fill locks under `namespace` on the server at `url`. */
async function fillLocks(url: string, namespace: string): Promise<string[]> {
  const raw = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await raw.scan(cursor, 'MATCH', `${namespace}:__lock__:*`, 'COUNT', 1_000);
      cursor = next;
      found.push(...keys);
    } while (cursor !== '0');
    return found;
  } finally {
    raw.disconnect();
  }
}

const uniqueNamespace = (): string => `procs-${randomBytes(4).toString('hex')}`;

describe('cacheResponse across app processes sharing one Redis', () => {
  test('500 concurrent cold requests over two processes reach a 50 ms origin at most twice, all with one answer', async () => {
    const env = { REDIS_URL: testRedisUrl(), NAMESPACE: uniqueNamespace(), ORIGIN_DELAY_MS: '50', LOCK_WAIT_MS: '10000' };
    const apps = await Promise.all([startApp('A', env), startApp('B', env)]);
    const pool = agent(250);
    const answers = await Promise.all(apps.flatMap((app) => Array.from({ length: 250 }, () => get(app.port, '/data?cold=1', pool))));
    const stats = await Promise.all(apps.map((app) => app.stats()));
    const origins = stats.map((s) => s.origin);
    const byCache = new Map<string, number>();
    for (const a of answers) byCache.set(String(a.headers['x-cache']), (byCache.get(String(a.headers['x-cache'])) ?? 0) + 1);
    report('500 cold requests over 2 processes:', { origins, xCache: Object.fromEntries(byCache), producedBy: [...new Set(answers.map((a) => a.headers['x-origin']))] });

    expect(answers).toHaveLength(500);
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    expect(new Set(answers.map((a) => a.body)).size).toBe(1);
    expect(origins[0]! + origins[1]!).toBeGreaterThanOrEqual(1);
    expect(origins[0]! + origins[1]!).toBeLessThanOrEqual(2);
    // Every answer came from one of those origin calls, whichever process served it.
    expect(new Set(answers.map((a) => a.headers['x-origin'])).size).toBeLessThanOrEqual(origins[0]! + origins[1]!);
  }, 60_000);

  test('a lock holder killed mid-fill delays the other process only until its lock wait, then it calls its own origin once', async () => {
    const namespace = uniqueNamespace();
    const url = testRedisUrl();
    // The lock outlives the test, so B can only get past it by giving up waiting, not by expiry.
    const shared = { REDIS_URL: url, NAMESPACE: namespace, LOCK_TTL_MS: '60000' };
    const [a, b] = await Promise.all([
      startApp('A', { ...shared, ORIGIN_DELAY_MS: '5000' }),
      startApp('B', { ...shared, ORIGIN_DELAY_MS: '20', LOCK_WAIT_MS: '300' }),
    ]);
    const dying = get(a.port, '/data?victim=1', agent(1)).then(
      (answer) => `answered ${answer.status}`,
      (error: NodeJS.ErrnoException) => error.code ?? error.message,
    );
    expect(await eventually(async () => (await a.stats()).origin === 1)).toBe(true);
    expect(await fillLocks(url, namespace)).toHaveLength(1);
    a.child.kill('SIGKILL');
    await exited(a.child);
    // A died with its request in flight: the client saw the connection drop, not an answer.
    expect(await dying).toBe('ECONNRESET');

    // Twenty requests at once: B's first miss waits for the dead holder's lock and then fills;
    // the others wait for that fill in-process instead of each calling the origin.
    const pool = agent(20);
    const fromB = await Promise.all(Array.from({ length: 20 }, () => get(b.port, '/data?victim=1', pool)));
    expect(fromB.map((answer) => answer.status)).toEqual(Array.from({ length: 20 }, () => 200));
    expect(new Set(fromB.map((answer) => answer.headers['x-origin']))).toEqual(new Set(['B-1']));
    expect(fromB.filter((answer) => answer.headers['x-cache'] === 'MISS')).toHaveLength(1);
    expect(JSON.parse(fromB[0]!.body)).toMatchObject({ path: '/data?victim=1' });
    expect((await b.stats()).origin).toBe(1);
    // The dead holder's lock is still there: B went past it, it did not wait it out.
    expect(await fillLocks(url, namespace)).toHaveLength(1);
    // B's answer was stored for everyone: the next request is a hit on it.
    expect(await eventually(async () => (await get(b.port, '/data?victim=1', pool)).headers['x-cache'] === 'HIT', 40)).toBe(true);
    expect((await b.stats()).origin).toBe(1);
  }, 60_000);

  test('memory stays bounded and nothing queues up during a 30 s Redis outage under load', async () => {
    const redis = await privateRedis();
    // A 20 ms origin: 20 requests in flight then stay well under what two cores can serve, so
    // test files running alongside are not starved for the 30 s.
    const app = await startApp('A', { REDIS_URL: redis.url, NAMESPACE: uniqueNamespace(), ORIGIN_DELAY_MS: '20' }, { exposeGc: true });
    // Warm up (JIT, connection pools, the cache itself) with Redis up, then take the baseline.
    let warm = 0;
    const warmup = await runLoad([app], { concurrency: 20, urls: 50, done: () => ++warm > 2_000 });
    expect([...warmup.keys()]).toEqual(['200']);
    const before = await app.stats(true);
    expect(before.gcExposed).toBe(true);
    expect(before.degraded).toBe(0);

    await redis.stop();
    redisServers.delete(redis);
    const endAt = Date.now() + 30_000;
    const outcomes = await runLoad([app], { concurrency: 20, urls: 50, done: () => Date.now() >= endAt });
    const after = await app.stats(true);
    const requests = [...outcomes.values()].reduce((sum, n) => sum + n, 0);
    const growthMb = (after.heapUsed - before.heapUsed) / 2 ** 20;
    report('30 s Redis outage under load:', {
      requests,
      outcomes: Object.fromEntries(outcomes),
      heapUsedMb: [before.heapUsed / 2 ** 20, after.heapUsed / 2 ** 20].map((mb) => Math.round(mb * 10) / 10),
      heapGrowthMb: Math.round(growthMb * 10) / 10,
      heapGrowthBytesPerRequest: Math.round((after.heapUsed - before.heapUsed) / requests),
      rssMb: [before.rss / 2 ** 20, after.rss / 2 ** 20].map((mb) => Math.round(mb)),
      offlineQueue: after.offlineQueue,
      commandQueue: after.commandQueue,
      redisStatus: after.redisStatus,
      storeErrors: after.errors,
      degraded: after.degraded,
      originCalls: after.origin - before.origin,
    });

    expect([...outcomes.keys()]).toEqual(['200']);
    expect(requests).toBeGreaterThan(500);
    // No store answered during the outage; only concurrent requests for one URL shared an origin
    // call (coalescing holds in memory), so the origin saw most requests but not all of them.
    expect(after.origin - before.origin).toBeGreaterThan(0);
    expect(after.origin - before.origin).toBeLessThanOrEqual(requests);
    expect(after.degraded).toBeGreaterThanOrEqual(1);
    expect(after.redisStatus).not.toBe('ready');
    // The open breaker keeps the dead store out of the request path: a handful of failed probes,
    // not one error per request.
    expect(after.errors).toBeLessThan(requests / 10);
    expect(after.offlineQueue).toBe(0);
    expect(after.commandQueue).toBe(0);
    expect(growthMb).toBeLessThan(30);
  }, 90_000);

  test('redis-server stopped and restarted while two processes are under load: zero failed requests, both recover', async () => {
    const redis = await privateRedis();
    const env = {
      REDIS_URL: redis.url,
      NAMESPACE: uniqueNamespace(),
      ORIGIN_DELAY_MS: '5',
      OP_TIMEOUT_MS: '500',
      BREAKER: JSON.stringify({ failureThreshold: 3, coolDownMs: 200 }),
    };
    const apps = await Promise.all([startApp('A', env), startApp('B', env)]);
    const [a, b] = apps as [App, App];
    let stop = false;
    const load = runLoad(apps, { concurrency: 8, urls: 25, done: () => stop });
    let recovered = false;
    try {
      await sleep(500);
      await redis.stop();
      redisServers.delete(redis);
      await eventually(async () => (await Promise.all(apps.map((app) => app.stats()))).every((s) => s.degraded >= 1), 100);
      await sleep(500);
      await privateRedis(redis.port);
      recovered = await eventually(async () => (await Promise.all(apps.map((app) => app.stats()))).every((s) => s.recovered >= 1), 200);
      await sleep(300);
    } finally {
      stop = true;
    }
    const outcomes = await load;
    const stats = await Promise.all(apps.map((app) => app.stats()));
    report('redis-server restart under load on 2 processes:', { outcomes: Object.fromEntries(outcomes), stats });

    expect([...outcomes.keys()]).toEqual(['200']);
    expect(outcomes.get('200')).toBeGreaterThan(100);
    expect(stats.map((s) => s.degraded >= 1)).toEqual([true, true]);
    expect(recovered).toBe(true);
    // After recovery the processes share the cache again: A's answer, once stored, is B's hit.
    const pool = agent(1);
    expect(await eventually(async () => (await get(a.port, '/data?after=1', pool)).headers['x-cache'] === 'HIT', 40)).toBe(true);
    const fromB = await get(b.port, '/data?after=1', pool);
    expect(fromB.headers['x-cache']).toBe('HIT');
    expect(fromB.headers['x-origin']).toMatch(/^A-/);
  }, 60_000);
});
