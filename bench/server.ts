/**
 * One benchmark candidate as an Express app in its own process: `node --import tsx
 * bench/server.ts <candidate>`. It listens on a free loopback port, prints one JSON line
 * `{"port":N}` when ready, and exits when its stdin closes (the runner holds the other end), so
 * it cannot outlive the runner.
 *
 * Routes, the same in every candidate:
 * - `GET /item`: the ~1 KB JSON body (cached by the candidate's middleware, if any);
 * - `GET /slow`: the same body after a 50 ms origin delay (for the stampede scenario);
 * - `GET /stats`: how many times each origin ran, cache errors seen, and the CPU time this process
 *   has used (never cached).
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import apicache from 'apicache';
import express, { type Request, type RequestHandler, type Response } from 'express';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import type { Cache } from '../lib';
import { libraryUnderTest } from './lib/library';
import { benchBody } from './lib/body';
import { CANDIDATES, type Candidate } from './lib/candidates';

const SLOW_ORIGIN_MS = 50;
const TTL_SECONDS = 300;
// A candidate left running by a crashed runner still goes away.
const MAX_LIFETIME_MS = 20 * 60_000;

const { MemoryStore, RedisStore, cacheResponse, createCache } = libraryUnderTest();
const body = benchBody();
const bodyBytes = Buffer.from(JSON.stringify(body));
const bodyEtag = `W/"${bodyBytes.length.toString(16)}-${createHash('sha1').update(bodyBytes).digest('base64').slice(0, 27)}"`;

const counters = { originCalls: 0, slowOriginCalls: 0, cacheErrors: 0 };

const origin: RequestHandler = (_req: Request, res: Response) => {
  counters.originCalls++;
  res.json(body);
};

const slowOrigin: RequestHandler = (_req: Request, res: Response) => {
  counters.slowOriginCalls++;
  setTimeout(() => res.json(body), SLOW_ORIGIN_MS);
};

// The ceiling: no serialisation, no ETag hashing, the same headers a cached answer carries.
const precomputed: RequestHandler = (_req: Request, res: Response) => {
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('ETag', bodyEtag);
  res.setHeader('Content-Length', bodyBytes.length);
  res.end(bodyBytes);
};

/** Where the raw-GET candidate keeps the body: written once at start, read on every request. */
const RAW_KEY = 'bench:raw:item';

/**
 * The Redis floor: one `GET` through a plain ioredis client (its defaults), then the same headers
 * and bytes as the ceiling. A Redis-backed cache cannot answer with less work than this.
 */
function rawGet(client: Redis): RequestHandler {
  return (_req: Request, res: Response) => {
    client.getBuffer(RAW_KEY).then(
      (stored) => {
        res.setHeader('Content-Type', 'application/json; charset=utf-8');
        res.setHeader('ETag', bodyEtag);
        res.setHeader('Content-Length', stored?.length ?? 0);
        res.end(stored);
      },
      () => {
        counters.cacheErrors++;
        res.statusCode = 500;
        res.end();
      },
    );
  };
}

async function rawClient(url: string | undefined): Promise<Redis> {
  if (!url) throw new Error('candidate redis-get needs BENCH_REDIS_URL');
  const client = new Redis(url);
  client.on('error', () => void counters.cacheErrors++);
  await client.set(RAW_KEY, bodyBytes);
  return client;
}

function watchCache(cache: Cache): Cache {
  cache.on('error', () => void counters.cacheErrors++);
  return cache;
}

async function redisV3Client(url: string): Promise<unknown> {
  const client = createClient({ url });
  client.on('error', () => void counters.cacheErrors++);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('redis v3 client not ready after 5 s')), 5_000);
    client.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  return client;
}

/** The middleware in front of `/item` and `/slow`, or `undefined` for the uncached candidates. */
async function middlewareFor(candidate: Candidate, redisUrl: string | undefined): Promise<(prefix: string) => RequestHandler | undefined> {
  const needRedis = (): string => {
    if (!redisUrl) throw new Error(`candidate ${candidate} needs BENCH_REDIS_URL`);
    return redisUrl;
  };
  switch (candidate) {
    case 'bare':
    case 'buffer':
    case 'redis-get':
      return () => undefined;
    case 'ck-memory': {
      // The defaults a user gets: MemoryStore's own bounds.
      const cache = watchCache(createCache({ store: new MemoryStore() }));
      return (prefix) => cacheResponse({ cache, ttl: TTL_SECONDS, keyPrefix: prefix });
    }
    case 'ck-redis': {
      const store = new RedisStore({ url: needRedis() });
      await store.ready();
      const cache = watchCache(createCache({ store, namespace: 'bench' }));
      return (prefix) => cacheResponse({ cache, ttl: TTL_SECONDS, keyPrefix: prefix });
    }
    case 'apicache-memory': {
      const instance = apicache.newInstance({});
      return () => instance.middleware(`${TTL_SECONDS} seconds`);
    }
    case 'apicache-redis': {
      const instance = apicache.newInstance({ redisClient: await redisV3Client(needRedis()) });
      return () => instance.middleware(`${TTL_SECONDS} seconds`);
    }
  }
}

async function main(): Promise<void> {
  const candidate = process.argv[2] as Candidate;
  if (!CANDIDATES.includes(candidate)) throw new Error(`unknown candidate "${String(candidate)}"; expected one of ${CANDIDATES.join(', ')}`);
  setTimeout(() => process.exit(3), MAX_LIFETIME_MS).unref();
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();

  const middleware = await middlewareFor(candidate, process.env.BENCH_REDIS_URL);
  const app = express();
  app.get('/stats', (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    const cpu = process.cpuUsage();
    res.json({ ...counters, cpuMicros: cpu.user + cpu.system });
  });
  const route = (path: string, prefix: string, handler: RequestHandler): void => {
    const cached = middleware(prefix);
    if (cached) app.get(path, cached, handler);
    else app.get(path, handler);
  };
  route('/item', 'item', candidate === 'buffer' ? precomputed : candidate === 'redis-get' ? rawGet(await rawClient(process.env.BENCH_REDIS_URL)) : origin);
  route('/slow', 'slow', slowOrigin);

  const server = http.createServer(app);
  // The stampede opens up to 1,000 connections at once; Node's default backlog is 511.
  await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1', backlog: 4_096 }, resolve));
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench server ${process.argv[2] ?? '?'} failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
