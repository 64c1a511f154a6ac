/**
 * The hit path side by side in ONE Express app: `npm run bench:side-by-side`.
 *
 * `npm run bench` gives each candidate a process of its own, so a round compares two processes
 * measured at different moments. Here one server process holds three routes answering the same
 * ~1 KB JSON body, and the load generator takes them in turn (rotating the order every round).
 * Each route is an Express app of its own behind the one server, so none pays for another's
 * place in a router, and the cache's capture (which routes its app's response prototype) never
 * runs on the ceiling's or apicache's responses:
 *
 * - `/buffer`: the precomputed-Buffer ceiling (the same headers a cached answer carries);
 * - `/ck`: `cacheResponse` on a `MemoryStore`, every request a hit;
 * - `/apicache`: apicache's memory mode, every request a hit.
 *
 * CPU per request is the server's own `process.cpuUsage()` across each load run (one route is
 * loaded at a time). Same pinning, bounds and clean-up as `npm run bench`; loopback only.
 * `BENCH_QUICK=1` for a smoke run; `BENCH_ROUNDS=N` for more rounds. It runs the compiled
 * package (`npm run build` first; `BENCH_LIB=source` for the sources through tsx).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import apicache from 'apicache';
import express, { type Request, type Response } from 'express';
import { benchBody } from './lib/body';
import { libraryUnderTest } from './lib/library';
import { autocannon, getJson, probe } from './lib/load';
import { ProcessGroup, detectPinning } from './lib/processes';
import { type Measured, type ThroughputRow, against, fixed, measured, spread } from './lib/report';

const ROUTES = ['/buffer', '/ck', '/apicache'] as const;
type Route = (typeof ROUTES)[number];
const LABELS: Record<Route, string> = { '/buffer': 'precomputed Buffer (ceiling)', '/ck': 'cacheResponse + MemoryStore', '/apicache': 'apicache (memory)' };

const QUICK = process.env.BENCH_QUICK === '1';
const ROUNDS = QUICK ? 2 : Math.min(50, Math.max(1, Number(process.env.BENCH_ROUNDS ?? 15)));
const SECONDS = QUICK ? 1 : 2;
const CONNECTIONS = 50;
const DEADLINE_MS = 15 * 60_000;

/** The server: three apps answering the same body, and `/stats` with this process's CPU time. */
async function serve(): Promise<void> {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
  setTimeout(() => process.exit(3), DEADLINE_MS).unref();
  const { MemoryStore, cacheResponse, createCache } = libraryUnderTest();
  const body = benchBody();
  const bytes = Buffer.from(JSON.stringify(body));
  const etag = `W/"${bytes.length.toString(16)}-${createHash('sha1').update(bytes).digest('base64').slice(0, 27)}"`;
  const cache = createCache({ store: new MemoryStore() });
  const stats = express();
  stats.get('/stats', (_req, res) => {
    const cpu = process.cpuUsage();
    res.setHeader('Cache-Control', 'no-store');
    res.json({ cpuMicros: cpu.user + cpu.system });
  });
  const apps = new Map<string, express.Express>(ROUTES.map((route) => [route, express()]));
  const appOf = (route: Route): express.Express => apps.get(route) as express.Express;
  appOf('/buffer').get('/buffer', (_req: Request, res: Response) => {
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('ETag', etag);
    res.setHeader('Content-Length', bytes.length);
    res.end(bytes);
  });
  appOf('/ck').get('/ck', cacheResponse({ cache, ttl: 300, keyPrefix: 'item' }), (_req: Request, res: Response) => void res.json(body));
  appOf('/apicache').get('/apicache', apicache.newInstance({}).middleware('300 seconds'), (_req: Request, res: Response) => void res.json(body));
  // One Map lookup per request, the same for every route.
  const server = http.createServer((req, res) => (apps.get(req.url ?? '') ?? stats)(req, res));
  await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1' }, resolve));
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
}

const digits = (count: number) => (n: number): string => fixed(n, count);

async function runner(): Promise<void> {
  const root = path.join(__dirname, '..');
  if (process.env.BENCH_LIB !== 'source') execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  const group = new ProcessGroup(detectPinning());
  const timer = setTimeout(() => {
    process.stderr.write('side-by-side: over its time limit, stopping\n');
    process.exit(2);
  }, DEADLINE_MS).unref();
  try {
    const { ready } = await group.startService<{ port: number }>('bench/side-by-side.ts', ['serve'], 'server', { NODE_ENV: 'production' }, 30_000);
    const base = `http://127.0.0.1:${ready.port}`;
    for (const route of ROUTES) {
      await probe(`${base}${route}`);
      const second = await probe(`${base}${route}`);
      if (second.status !== 200) throw new Error(`${route} answered ${second.status}`);
      if (route === '/ck' && second.xCache !== 'HIT') throw new Error(`/ck did not hit on the second request (X-Cache: ${second.xCache})`);
    }
    for (const route of ROUTES) await autocannon(group, `${base}${route}`, { connections: CONNECTIONS, durationSeconds: SECONDS });
    const rounds = new Map<Route, ThroughputRow['rounds']>(ROUTES.map((route) => [route, { rps: [], cpuUs: [] }]));
    for (let round = 0; round < ROUNDS; round++) {
      const order = ROUTES.map((_, i) => ROUTES[(i + round) % ROUTES.length] as Route);
      for (const route of order) {
        const before = (await getJson<{ cpuMicros: number }>(`${base}/stats`)).cpuMicros;
        const result = await autocannon(group, `${base}${route}`, { connections: CONNECTIONS, durationSeconds: SECONDS });
        const after = (await getJson<{ cpuMicros: number }>(`${base}/stats`)).cpuMicros;
        if (result.failures > 0) throw new Error(`${route}: ${result.failures} failed requests`);
        rounds.get(route)?.rps.push(result.rps);
        rounds.get(route)?.cpuUs.push((after - before) / Math.max(1, result.total));
      }
    }
    const of = (route: Route): Measured => measured(rounds.get(route) ?? { rps: [], cpuUs: [] });
    const lines = [
      `Side by side in one process · ${new Date().toISOString()} · Node ${process.versions.node} · ${ROUNDS} rounds × ${SECONDS} s, ${CONNECTIONS} connections · ${QUICK ? 'QUICK (not a measurement)' : 'full'}`,
      '',
      '| route | req/s median (min–max) | CPU µs/request median (min–max) |',
      '| --- | ---: | ---: |',
      ...ROUTES.map((route) => `| ${LABELS[route]} | ${spread(of(route).rps, digits(0))} | ${spread(of(route).cpuUsPerRequest, digits(1))} |`),
      '',
    ];
    const pairs: Array<[Route, Route]> = [
      ['/ck', '/buffer'],
      ['/ck', '/apicache'],
      ['/apicache', '/buffer'],
    ];
    for (const [a, b] of pairs) {
      lines.push(`- ${LABELS[a]} against ${LABELS[b]}: ${against(of(a), of(b))}.`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    clearTimeout(timer);
    group.killAll();
  }
}

if (process.argv[2] === 'serve') {
  serve().catch((error: unknown) => {
    process.stderr.write(`side-by-side server failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });
} else {
  runner().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });
}
