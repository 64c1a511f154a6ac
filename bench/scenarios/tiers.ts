/**
 * The tiers scenario of `npm run bench` (`BENCH_SCENARIOS=tiers` alone): the L1 tier over Redis
 * against the references the issue names, in one run, with interleaved rounds so each ratio
 * compares runs made under the same machine load.
 *
 * - `l1 / memory`: cacheResponse hits through an L1 over RedisStore against cacheResponse +
 *   MemoryStore (target ≥ 0.95);
 * - `redis / raw-get`: cacheResponse + RedisStore hits (no L1) against a route doing one raw
 *   ioredis GET and `res.end` of the same bytes (target ≥ 0.85);
 * - propagation: `invalidateTags` on instance A until B's L1 copy is dropped, p50/p99;
 * - memory per L1 copy against the payload bytes.
 *
 * Writes `bench/results/tiers.json` and `tiers.md` (`quick-tiers.*` for a BENCH_QUICK run).
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type LoadResult, autocannon, getJson, probe } from '../lib/load';
import type { ProcessGroup } from '../lib/processes';
import { type Summary, summarize } from '../lib/stats';

const SCRIPT = 'bench/scenarios/tiers-process.ts';
const VARIANTS = ['memory', 'l1', 'redis', 'raw-get'] as const;
type Variant = (typeof VARIANTS)[number];

/** What the scenario measured. */
export interface TiersResults {
  rounds: number;
  durationSeconds: number;
  connections: number;
  rps: Record<Variant, Summary>;
  p99Ms: Record<Variant, Summary>;
  /** Server CPU time per request, in µs (less sensitive than req/s to a machine shared with other work). */
  cpuUsPerRequest: Record<Variant, Summary>;
  /** Per round: l1 / memory requests per second. */
  l1OverMemory: Summary;
  /** Per round: redis / raw-get requests per second. */
  redisOverRawGet: Summary;
  /** Per round: memory CPU per request / l1 CPU per request (above 1: the L1 hit costs less). */
  l1OverMemoryCpu: Summary;
  /** Per round: raw-get CPU per request / redis CPU per request. */
  redisOverRawGetCpu: Summary;
  failures: number;
  originCallsDuringRounds: Record<Variant, number>;
  propagation: { count: number; p50Ms: number; p99Ms: number; maxMs: number };
  /** In-process CPU µs per `getResponse` hit (no HTTP), per round. */
  hitpath: { count: number; memoryUs: number[]; l1Us: number[] };
  memory: { count: number; payloadBytes: number; countedBytesPerEntry: number; heapBytesPerEntry: number; rssBytesPerEntry: number };
}

const f = (n: number, digits = 2): string => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
const range = (s: Summary, digits = 2): string => `${f(s.median, digits)} (${f(s.min, digits)}–${f(s.max, digits)})`;

/** The Markdown table of {@link TiersResults}. */
export function renderTiers(results: TiersResults): string {
  const lines = [
    `### L1 tier over Redis (${results.rounds} interleaved rounds of ${results.durationSeconds} s, ${results.connections} connections)`,
    '',
    '| route | req/s median (min–max) | p99 ms median | server CPU µs/request median (min–max) |',
    '| --- | --- | --- | --- |',
    ...VARIANTS.map(
      (variant) => `| ${variant} | ${range(results.rps[variant], 0)} | ${f(results.p99Ms[variant].median, 1)} | ${range(results.cpuUsPerRequest[variant], 1)} |`,
    ),
    '',
    `- L1+L2 hit / MemoryStore hit: **${range(results.l1OverMemory)}** by req/s, **${range(results.l1OverMemoryCpu)}** by CPU per request (target ≥ 0.95)`,
    `- Redis hit without L1 / raw ioredis GET + res.end: **${range(results.redisOverRawGet)}** by req/s, **${range(results.redisOverRawGetCpu)}** by CPU per request (target ≥ 0.85)`,
    `- In process, no HTTP (${results.hitpath.count} \`getResponse\` hits × 3 rounds): MemoryStore ${results.hitpath.memoryUs.map((n) => f(n, 3)).join(' / ')} µs, L1 ${results.hitpath.l1Us.map((n) => f(n, 3)).join(' / ')} µs of CPU per hit`,
    `- Propagation of invalidateTags from A to B's L1 over ${results.propagation.count} invalidations: p50 ${f(results.propagation.p50Ms, 3)} ms, p99 ${f(results.propagation.p99Ms, 3)} ms, max ${f(results.propagation.maxMs, 3)} ms`,
    `- Memory per L1 copy (${results.memory.count} copies of a ${results.memory.payloadBytes}-byte body): counted ${f(results.memory.countedBytesPerEntry, 0)} B, heap+external ${f(results.memory.heapBytesPerEntry, 0)} B, RSS ${f(results.memory.rssBytesPerEntry, 0)} B`,
    `- Failures: ${results.failures}; origin calls during the rounds: ${VARIANTS.map((v) => `${v} ${results.originCallsDuringRounds[v]}`).join(', ')}`,
  ];
  return lines.join('\n');
}

interface Service {
  base: string;
  child: ChildProcess;
}

/** Runs the scenario; `redisUrl` is the benchmark's redis-server. */
export async function tiersScenario(
  group: ProcessGroup,
  redisUrl: string,
  config: { rounds: number; durationSeconds: number; warmupSeconds: number; connections: number; quick: boolean },
  log: (line: string) => void,
): Promise<TiersResults> {
  log('tiers (L1 over Redis)');
  const services = new Map<Variant, Service>();
  try {
    for (const variant of VARIANTS) {
      const { child, ready } = await group.startService<{ port: number }>(SCRIPT, ['serve', redisUrl, variant], 'server', { NODE_ENV: 'production' }, 30_000);
      services.set(variant, { base: `http://127.0.0.1:${ready.port}`, child });
    }
    const service = (variant: Variant): Service => services.get(variant) as Service;
    for (const variant of VARIANTS) {
      // On a loaded machine a write can time out (a miss again): allow a few tries to fill.
      let answer = await probe(`${service(variant).base}/item`);
      for (let tries = 0; tries < 10 && variant !== 'raw-get' && answer.xCache !== 'HIT'; tries++) answer = await probe(`${service(variant).base}/item`);
      if (answer.status !== 200) throw new Error(`${variant} answered ${answer.status}`);
      if (variant !== 'raw-get' && answer.xCache !== 'HIT') throw new Error(`${variant} never answered a HIT in 10 requests`);
      await autocannon(group, `${service(variant).base}/item`, { connections: config.connections, durationSeconds: config.warmupSeconds });
    }
    const originBefore = new Map<Variant, number>();
    for (const variant of VARIANTS) originBefore.set(variant, (await getJson<{ originCalls: number }>(`${service(variant).base}/stats`)).originCalls);
    const runs = new Map<Variant, Array<LoadResult & { cpuUs: number }>>(VARIANTS.map((variant) => [variant, []]));
    const cpuOf = async (variant: Variant): Promise<number> => (await getJson<{ cpuMicros: number }>(`${service(variant).base}/stats`)).cpuMicros;
    for (let round = 0; round < config.rounds; round++) {
      const order = [...VARIANTS.slice(round % VARIANTS.length), ...VARIANTS.slice(0, round % VARIANTS.length)];
      for (const variant of order) {
        const cpuBefore = await cpuOf(variant);
        const result = await autocannon(group, `${service(variant).base}/item`, { connections: config.connections, durationSeconds: config.durationSeconds });
        const cpuUs = ((await cpuOf(variant)) - cpuBefore) / Math.max(1, result.total);
        runs.get(variant)?.push({ ...result, cpuUs });
        log(`  round ${round + 1}/${config.rounds} ${variant}: ${Math.round(result.rps)} req/s, p99 ${result.p99} ms, ${cpuUs.toFixed(1)} CPU µs/request${result.failures ? `, ${result.failures} failures` : ''}`);
      }
    }
    const originCallsDuringRounds = {} as Record<Variant, number>;
    for (const variant of VARIANTS) {
      originCallsDuringRounds[variant] = (await getJson<{ originCalls: number }>(`${service(variant).base}/stats`)).originCalls - (originBefore.get(variant) ?? 0);
    }
    const of = (variant: Variant): Array<LoadResult & { cpuUs: number }> => runs.get(variant) ?? [];
    const ratio = (top: Variant, bottom: Variant): Summary => summarize(of(top).map((run, i) => run.rps / (of(bottom)[i]?.rps ?? Number.NaN)));
    const cpuRatio = (top: Variant, bottom: Variant): Summary => summarize(of(top).map((run, i) => (of(bottom)[i]?.cpuUs ?? Number.NaN) / run.cpuUs));
    for (const s of services.values()) await group.stop(s.child);
    services.clear();

    const count = config.quick ? 200 : 1_000;
    const propagation = JSON.parse(await group.run(SCRIPT, ['propagation', redisUrl, String(count)], { role: 'server', timeoutMs: 120_000 })) as TiersResults['propagation'];
    log(`  propagation over ${count}: p50 ${f(propagation.p50Ms, 3)} ms, p99 ${f(propagation.p99Ms, 3)} ms`);
    const hitpath = JSON.parse(
      await group.run(SCRIPT, ['hitpath', redisUrl, String(config.quick ? 20_000 : 200_000)], { role: 'server', timeoutMs: 120_000 }),
    ) as TiersResults['hitpath'];
    log(`  hit path in process: memory ${hitpath.memoryUs.map((n) => f(n, 3)).join('/')} µs, l1 ${hitpath.l1Us.map((n) => f(n, 3)).join('/')} µs`);
    const memory = JSON.parse(
      await group.run(SCRIPT, ['memory', redisUrl, String(config.quick ? 5_000 : 50_000)], { role: 'server', timeoutMs: 180_000 }, ['--expose-gc']),
    ) as TiersResults['memory'];
    log(`  memory: ${f(memory.heapBytesPerEntry, 0)} B heap+external per copy of ${memory.payloadBytes} B`);

    const results: TiersResults = {
      rounds: config.rounds,
      durationSeconds: config.durationSeconds,
      connections: config.connections,
      rps: Object.fromEntries(VARIANTS.map((v) => [v, summarize(of(v).map((run) => run.rps))])) as Record<Variant, Summary>,
      p99Ms: Object.fromEntries(VARIANTS.map((v) => [v, summarize(of(v).map((run) => run.p99))])) as Record<Variant, Summary>,
      cpuUsPerRequest: Object.fromEntries(VARIANTS.map((v) => [v, summarize(of(v).map((run) => run.cpuUs))])) as Record<Variant, Summary>,
      l1OverMemory: ratio('l1', 'memory'),
      redisOverRawGet: ratio('redis', 'raw-get'),
      l1OverMemoryCpu: cpuRatio('l1', 'memory'),
      redisOverRawGetCpu: cpuRatio('redis', 'raw-get'),
      failures: VARIANTS.reduce((sum, v) => sum + of(v).reduce((s, run) => s + run.failures, 0), 0),
      originCallsDuringRounds,
      propagation,
      hitpath,
      memory,
    };
    const dir = path.resolve(__dirname, '..', 'results');
    mkdirSync(dir, { recursive: true });
    const stem = config.quick ? 'quick-tiers' : 'tiers';
    writeFileSync(path.join(dir, `${stem}.json`), `${JSON.stringify({ date: new Date().toISOString(), ...results }, null, 2)}\n`);
    writeFileSync(path.join(dir, `${stem}.md`), `${renderTiers(results)}\n`);
    return results;
  } finally {
    for (const s of services.values()) await group.stop(s.child);
  }
}
