/**
 * `npm run bench:hostile`: what a hostile query string costs (issue 11, item 1).
 *
 * The query: 1,450 parameters `%zz<i>=%zz` (about 16 KB, inside Node's default header limit),
 * every component a malformed escape. Two measurements:
 *
 * 1. **Keying**, in this process: `apiKey` (what `cacheResponse` computes for a query within its
 *    bounds) on that query, against the previous implementation (object-hash over the parsed
 *    query, one thrown URIError per malformed component) kept below as `legacyApiKey`, and the
 *    cost of refusing it with the default bounds (`requestKey` → `query-too-long`).
 * 2. **HTTP**, an Express 5 app in its own process (`bench/hostile-query.ts server`) on
 *    MemoryStore, driven by autocannon from another (`bench/hostile-query.ts load`), pinned apart
 *    when `taskset` allows, with every request a new URL (`?u=<n>&` + the hostile query):
 *    - `uncached`: the handler alone (the reference);
 *    - `cached (default bounds)`: `cacheResponse()`: the query is over `maxQueryLength`, BYPASS;
 *    - `cached (bounds raised)`: `cacheResponse({ maxQueryLength: 20000, maxQueryParams: 2000 })`:
 *      every request is keyed, misses, runs the handler and is stored;
 *    then the latency of cache hits on another route while each of those attacks runs.
 *
 * Writes `bench/results/hostile-query.json` and `.md` (`BENCH_QUICK=1`: `quick-hostile-query.*`,
 * which git ignores). The same-machine noise rules of bench/README.md apply: rounds interleave,
 * per-round ratios and the best rounds are both reported.
 */
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import autocannon from 'autocannon';
import express, { type Request, type Response } from 'express';
import objectHash from 'object-hash';
import { MemoryStore, apiKey, cacheResponse, createCache } from '../lib';
import { requestKey } from '../lib/http/request-key';
import { ProcessGroup, detectPinning } from './lib/processes';

const QUICK = process.env.BENCH_QUICK === '1';
const CONFIG = QUICK ? { rounds: 2, seconds: 1, keySamples: 50 } : { rounds: 5, seconds: 3, keySamples: 500 };
const CONNECTIONS = 20;
const HOSTILE = Array.from({ length: 1_450 }, (_, i) => `%zz${i}=%zz`).join('&');
const RESULTS = path.resolve(__dirname, 'results', QUICK ? 'quick-hostile-query' : 'hostile-query');
const ROUTES = [
  { path: '/uncached', label: 'uncached (reference)' },
  { path: '/cached', label: 'cached (default bounds: BYPASS)' },
  { path: '/cached-keyed', label: 'cached (bounds raised: keyed, miss, store)' },
] as const;

// The key computation before issue 11, kept to measure against: object-hash over the parsed
// query, and decodeURIComponent with one exception per malformed component.
function legacyDecode(raw: string): string {
  const spaced = raw.includes('+') ? raw.replace(/\+/g, ' ') : raw;
  if (!spaced.includes('%')) return spaced;
  try {
    return decodeURIComponent(spaced);
  } catch {
    return `\u0000raw:${raw}`;
  }
}
function legacyApiKey(endpoint: string, urlPath: string, rawQuery: string): string {
  const grouped = new Map<string, string[]>();
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = legacyDecode(eq === -1 ? part : part.slice(0, eq));
    const value = eq === -1 ? '' : legacyDecode(part.slice(eq + 1));
    const values = grouped.get(name);
    if (values) values.push(value);
    else grouped.set(name, [value]);
  }
  const query = [...grouped.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return `api:${endpoint}:${objectHash({ path: urlPath, query }, { algorithm: 'sha1', encoding: 'hex' })}`;
}

interface Spread {
  min: number;
  median: number;
  p99: number;
  max: number;
}

function spread(samples: number[]): Spread {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
  return { min: sorted[0] as number, median: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] as number };
}

/** Milliseconds per call of `run`, one sample per call. */
function timeIt(samples: number, run: () => unknown): Spread {
  for (let i = 0; i < Math.min(20, samples); i++) run();
  const out: number[] = [];
  for (let i = 0; i < samples; i++) {
    const start = process.hrtime.bigint();
    run();
    out.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return spread(out);
}

function measureKeying(): Record<string, Spread> {
  const target = { protocol: 'http', host: '127.0.0.1' };
  const bounds = { ignoreQuery: undefined, maxKeyLength: 512, maxQueryLength: 4_096, maxQueryParams: 128, keyByHost: true };
  let n = 0;
  return {
    // A new URL every call (`u=<n>`), as in the attack: nothing can be remembered.
    'apiKey (now)': timeIt(CONFIG.keySamples, () => apiKey('e', '/cached', `u=${n++}&${HOSTILE}`, undefined, target)),
    'legacy object-hash + throwing decode (before)': timeIt(Math.ceil(CONFIG.keySamples / 5), () => legacyApiKey('e', '/cached', `u=${n++}&${HOSTILE}`)),
    'requestKey, default bounds (refused)': timeIt(CONFIG.keySamples, () => requestKey({ endpoint: 'e', ...target, path: '/cached', rawQuery: `u=${n++}&${HOSTILE}` }, bounds)),
  };
}

// -- server mode ------------------------------------------------------------------------------

async function serve(): Promise<void> {
  setTimeout(() => process.exit(3), 10 * 60_000).unref();
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
  const cache = createCache({ store: new MemoryStore() });
  const counters = { origin: 0, bypass: 0, set: 0, errors: 0 };
  cache.on('bypass', () => void counters.bypass++);
  cache.on('set', () => void counters.set++);
  cache.on('error', () => void counters.errors++);
  const handler = (req: Request, res: Response): void => {
    counters.origin++;
    res.json({ params: Object.keys(req.query).length });
  };
  const app = express();
  app.get('/stats', (_req, res) => {
    const cpu = process.cpuUsage();
    res.json({ ...counters, cpuMicros: cpu.user + cpu.system });
  });
  app.get('/uncached', handler);
  app.get('/cached', cacheResponse({ cache, ttl: 300 }), handler);
  app.get('/cached-keyed', cacheResponse({ cache, ttl: 300, maxQueryLength: 20_000, maxQueryParams: 2_000 }), handler);
  app.get('/hit', cacheResponse({ cache, ttl: 300 }), (_req, res) => void res.json({ ok: true }));
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1' }, resolve));
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
}

// -- load mode --------------------------------------------------------------------------------

interface Load {
  rps: number;
  p50: number;
  p99: number;
  total: number;
  failures: number;
}

async function load(url: string, seconds: number, connections: number, hostile: boolean): Promise<void> {
  const target = new URL(url);
  const run = `${process.pid.toString(36)}${Date.now().toString(36)}`;
  let sequence = 0;
  const requests = hostile ? [{ method: 'GET' as const, setupRequest: (request: { path?: string }) => ({ ...request, path: `${target.pathname}?u=${run}-${sequence++}&${HOSTILE}` }) }] : undefined;
  const result = await autocannon({ url, connections, duration: seconds, timeout: 10, requests });
  const out: Load = {
    rps: result.requests.total / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    total: result.requests.total,
    failures: result.non2xx + result.errors + result.timeouts,
  };
  process.stdout.write(JSON.stringify(out));
}

/** What the server counted: origin calls, cache events, and its own CPU time (µs). */
interface Counts {
  origin: number;
  bypass: number;
  set: number;
  errors: number;
  cpuMicros: number;
}

// -- runner -----------------------------------------------------------------------------------

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  return (await response.json()) as T;
}

async function runner(): Promise<void> {
  const keying = measureKeying();
  const group = new ProcessGroup(detectPinning());
  const stop = (): void => {
    group.killAll();
    process.exit(1);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const deadline = setTimeout(() => {
    process.stderr.write('hostile-query bench: deadline passed\n');
    stop();
  }, 10 * 60_000);
  try {
    const { child, ready } = await group.startService<{ port: number }>('bench/hostile-query.ts', ['server'], 'server', {}, 20_000);
    const base = `http://127.0.0.1:${ready.port}`;
    const drive = async (route: string, hostile: boolean, connections = CONNECTIONS): Promise<Load> =>
      JSON.parse(await group.run('bench/hostile-query.ts', ['load', `${base}${route}`, String(CONFIG.seconds), String(connections), hostile ? 'hostile' : 'plain'], { role: 'load', timeoutMs: CONFIG.seconds * 1_000 + 30_000 })) as Load;
    // Warm up the JIT on every path once.
    for (const route of ROUTES) await drive(route.path, true);
    const rounds: Record<string, Load[]> = Object.fromEntries(ROUTES.map((r) => [r.path, []]));
    // Server CPU per request: on a shared machine, the measure other processes disturb least.
    const cpuPerRequest: Record<string, number[]> = Object.fromEntries(ROUTES.map((r) => [r.path, []]));
    const counts: Record<string, Counts> = {};
    for (let round = 0; round < CONFIG.rounds; round++) {
      // Rotate the order every round, as bench/run.ts does.
      for (let i = 0; i < ROUTES.length; i++) {
        const route = ROUTES[(i + round) % ROUTES.length] as (typeof ROUTES)[number];
        const before = await getJson<Counts>(`${base}/stats`);
        const result = await drive(route.path, true);
        const after = await getJson<Counts>(`${base}/stats`);
        rounds[route.path]?.push(result);
        const sum = (counts[route.path] ??= { origin: 0, bypass: 0, set: 0, errors: 0, cpuMicros: 0 });
        for (const k of ['origin', 'bypass', 'set', 'errors', 'cpuMicros'] as const) sum[k] += after[k] - before[k];
        cpuPerRequest[route.path]?.push((after.cpuMicros - before.cpuMicros) / Math.max(1, result.total));
      }
    }
    // Hits on another route while an attack runs (one connection asking /hit), and alone.
    await fetch(`${base}/hit`).then((r) => r.arrayBuffer());
    const hitsAlone = await drive('/hit', false, 1);
    const hitsDuring: Record<string, Load> = {};
    for (const route of ['/uncached', '/cached', '/cached-keyed']) {
      const [, hits] = await Promise.all([drive(route, true), drive('/hit', false, 1)]);
      hitsDuring[route] = hits;
    }
    await group.stop(child);

    const reference = rounds['/uncached'] ?? [];
    const rows = ROUTES.map((route) => {
      const list = rounds[route.path] ?? [];
      const perRound = spread(list.map((r, i) => r.rps / (reference[i]?.rps ?? Number.NaN))).median;
      const best = Math.max(...list.map((r) => r.rps)) / Math.max(...reference.map((r) => r.rps));
      const cpu = cpuPerRequest[route.path] ?? [];
      const cpuRatio = Math.min(...cpu) / Math.min(...(cpuPerRequest['/uncached'] ?? []));
      return {
        route: route.path,
        label: route.label,
        rps: spread(list.map((r) => r.rps)),
        p99: spread(list.map((r) => r.p99)),
        perRoundRatio: perRound,
        bestRatio: best,
        cpuUsPerRequest: spread(cpu),
        cpuRatioBest: cpuRatio,
        failures: list.reduce((n, r) => n + r.failures, 0),
        counts: counts[route.path],
      };
    });
    const results = {
      when: new Date().toISOString(),
      node: process.version,
      pinning: group.pinning ? `server on CPU ${group.pinning.server}, load on CPU ${group.pinning.load}` : 'none',
      quick: QUICK,
      query: { params: 1_450, chars: HOSTILE.length },
      config: { ...CONFIG, connections: CONNECTIONS },
      keyingMs: keying,
      http: rows,
      hitOnAnotherRoute: { alone: hitsAlone, duringUncachedAttack: hitsDuring['/uncached'], duringDefaultBoundsAttack: hitsDuring['/cached'], duringRaisedBoundsAttack: hitsDuring['/cached-keyed'] },
    };
    writeFileSync(`${RESULTS}.json`, `${JSON.stringify(results, null, 2)}\n`);
    const f = (n: number, digits = 3): string => n.toFixed(digits);
    const md = [
      `# Hostile query (${results.when}, Node ${results.node}, pinning: ${results.pinning}${QUICK ? ', QUICK: not a measurement' : ''})`,
      '',
      `Query: ${results.query.params} parameters \`%zz<i>=%zz\`, ${results.query.chars} characters, a new \`u=<n>\` on every request.`,
      '',
      '## Keying (ms per query, this process)',
      '',
      '| what | min | median | p99 | max |',
      '| --- | --- | --- | --- | --- |',
      ...Object.entries(keying).map(([name, s]) => `| ${name} | ${f(s.min)} | ${f(s.median)} | ${f(s.p99)} | ${f(s.max)} |`),
      '',
      `## HTTP (${CONNECTIONS} connections, ${CONFIG.rounds} rounds × ${CONFIG.seconds} s, MemoryStore)`,
      '',
      '| route | req/s median (min–max) | p99 ms median | req/s vs uncached, per round | req/s vs uncached, best rounds | server CPU µs/request, best round (median) | CPU vs uncached, best rounds | origin calls | bypass events | stored | failures |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      ...rows.map(
        (r) =>
          `| ${r.label} | ${f(r.rps.median, 0)} (${f(r.rps.min, 0)}–${f(r.rps.max, 0)}) | ${f(r.p99.median, 0)} | ${f(r.perRoundRatio, 2)}× | ${f(r.bestRatio, 2)}× | ${f(r.cpuUsPerRequest.min, 0)} (${f(r.cpuUsPerRequest.median, 0)}) | ${f(r.cpuRatioBest, 2)}× | ${r.counts?.origin ?? 0} | ${r.counts?.bypass ?? 0} | ${r.counts?.set ?? 0} | ${r.failures} |`,
      ),
      '',
      '## Hits on another route (1 connection)',
      '',
      '| while | req/s | p50 ms | p99 ms |',
      '| --- | --- | --- | --- |',
      ...([
        ['nothing else', hitsAlone],
        ['the same attack on the uncached route', hitsDuring['/uncached']],
        ['the default-bounds attack', hitsDuring['/cached']],
        ['the raised-bounds attack', hitsDuring['/cached-keyed']],
      ] as Array<[string, Load | undefined]>).map(([name, r]) => `| ${name} | ${f(r?.rps ?? Number.NaN, 0)} | ${r?.p50 ?? '?'} | ${r?.p99 ?? '?'} |`),
      '',
    ].join('\n');
    writeFileSync(`${RESULTS}.md`, md);
    process.stdout.write(`${md}\nwrote ${path.relative(process.cwd(), RESULTS)}.json and .md\n`);
  } finally {
    clearTimeout(deadline);
    group.killAll();
  }
}

const [mode, ...args] = process.argv.slice(2);
const main = mode === 'server' ? serve() : mode === 'load' ? load(args[0] as string, Number(args[1]), Number(args[2]), args[3] === 'hostile') : runner();
main.catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
