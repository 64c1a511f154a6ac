/**
 * `npm run bench`: starts a redis-server and one process per candidate app on loopback, drives
 * them with autocannon from another process, and prints a Markdown table of medians and ratios.
 * Writes `bench/results/latest.json`, `latest.md` and `hit-throughput.svg` (a quick or partial run
 * writes `quick*` or `partial*` files instead, which git ignores).
 *
 * `BENCH_QUICK=1` runs every scenario very briefly (a smoke test, not a measurement).
 * See bench/README.md for what each scenario means.
 */
import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { type RedisServer, startRedisServer } from '../__tests__/helpers/redis-server';
import { CANDIDATES, type Candidate, LABELS, usesRedis } from './lib/candidates';
import { type LoadResult, autocannon, burst, getJson, probe } from './lib/load';
import { ProcessGroup, detectPinning } from './lib/processes';
import { type BenchResults, type StampedeRow, type ThroughputRow, LATEST_END, LATEST_START, SUMMARY_END, SUMMARY_START, quoteBetween, renderHitChart, renderMarkdown, summaryOf } from './lib/report';
import { summarize } from './lib/stats';
import { type StoresResults, renderStores, storesScenario } from './lib/stores-bench';
import { renderTiers, tiersScenario } from './scenarios/tiers';
import { metricsScenario } from './scenarios/metrics';
import { refreshScenario } from './scenarios/refresh';

const QUICK = process.env.BENCH_QUICK === '1';
const CONFIG = QUICK
  ? { rounds: 2, durationSeconds: 1, warmupSeconds: 1, connections: 50, stampedeSizes: [200, 1_000], stampedeRounds: 1, memoryCount: 100_000, invalidationCount: 20_000, invalidationRounds: 1 }
  : { rounds: 9, durationSeconds: 2, warmupSeconds: 2, connections: 50, stampedeSizes: [200, 1_000], stampedeRounds: 3, memoryCount: 100_000, invalidationCount: 100_000, invalidationRounds: 3 };
// The whole run is bounded even if something hangs: well above the expected ~11 minutes (the
// stores scenario adds about 4.5 on a loaded machine).
const RUN_DEADLINE_MS = (QUICK ? 5 : 25) * 60_000;
const BOUND_MAX_BYTES = 16 * 1024 * 1024;
const STAMPEDE_CANDIDATES: Candidate[] = ['ck-memory', 'ck-redis', 'apicache-memory', 'apicache-redis'];
const MISS_CANDIDATES: Candidate[] = ['bare', 'ck-memory', 'ck-redis'];
const RESULTS_DIR = path.resolve(__dirname, 'results');
const SCENARIOS = ['hit', 'miss', 'stampede', 'memory', 'invalidation', 'stores', 'tiers', 'metrics', 'refresh'] as const;
type Scenario = (typeof SCENARIOS)[number];

/** `BENCH_SCENARIOS=hit,miss` runs only those (for working on one); the default is all of them. */
function selectedScenarios(): Set<Scenario> {
  const wanted = process.env.BENCH_SCENARIOS?.split(',').map((name) => name.trim()).filter(Boolean);
  if (!wanted || wanted.length === 0) return new Set(SCENARIOS);
  const unknown = wanted.filter((name) => !(SCENARIOS as readonly string[]).includes(name));
  if (unknown.length > 0) throw new Error(`BENCH_SCENARIOS: unknown ${unknown.join(', ')}; expected some of ${SCENARIOS.join(', ')}`);
  return new Set(wanted as Scenario[]);
}

interface Stats {
  originCalls: number;
  slowOriginCalls: number;
  cacheErrors: number;
  /** User + system CPU time the server process has used, in microseconds. */
  cpuMicros: number;
}

/** One load run plus what it cost the server in CPU time. */
interface Measured extends LoadResult {
  cpuUsPerRequest: number;
}

interface Server {
  candidate: Candidate;
  base: string;
  child: ChildProcess;
}

const log = (line: string): void => void process.stderr.write(`[bench] ${line}\n`);

function versionOf(pkg: string): string {
  try {
    return (JSON.parse(readFileSync(path.resolve(__dirname, '..', 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function redisServerVersion(): string {
  try {
    return /v=(\S+)/.exec(execFileSync('redis-server', ['--version'], { encoding: 'utf8' }))?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Rotates the order each round, so no candidate always runs first (or right after a noisy one). */
function rotated<T>(items: readonly T[], by: number): T[] {
  const shift = by % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}

async function startServers(group: ProcessGroup, redis: RedisServer): Promise<Map<Candidate, Server>> {
  const servers = new Map<Candidate, Server>();
  // One at a time: they share CPU 0, and tsx compiling six apps at once only slows each start.
  for (const candidate of CANDIDATES) {
    const env = { NODE_ENV: 'production', BENCH_REDIS_URL: usesRedis(candidate) ? redis.url : '' };
    const { child, ready } = await group.startService<{ port: number }>('bench/server.ts', [candidate], 'server', env, 30_000);
    servers.set(candidate, { candidate, base: `http://127.0.0.1:${ready.port}`, child });
  }
  return servers;
}

function serverOf(servers: Map<Candidate, Server>, candidate: Candidate): Server {
  const server = servers.get(candidate);
  if (!server) throw new Error(`no server for ${candidate}`);
  return server;
}

async function statsOf(server: Server): Promise<Stats> {
  return getJson<Stats>(`${server.base}/stats`);
}

/**
 * Runs `candidates` against `pathOf` in interleaved rounds and summarises each, with per-round
 * ratios against `reference` (which must be among the candidates).
 */
async function throughput(
  group: ProcessGroup,
  servers: Map<Candidate, Server>,
  candidates: Candidate[],
  reference: Candidate,
  urlPath: string,
  unique: boolean,
): Promise<ThroughputRow[]> {
  const options = { connections: CONFIG.connections, unique };
  for (const candidate of candidates) {
    await autocannon(group, `${serverOf(servers, candidate).base}${urlPath}`, { ...options, durationSeconds: CONFIG.warmupSeconds });
  }
  const originBefore = new Map<Candidate, Stats>();
  for (const candidate of candidates) originBefore.set(candidate, await statsOf(serverOf(servers, candidate)));
  const perRound = new Map<Candidate, Measured[]>(candidates.map((candidate) => [candidate, []]));
  for (let round = 0; round < CONFIG.rounds; round++) {
    for (const candidate of rotated(candidates, round)) {
      const server = serverOf(servers, candidate);
      const cpuBefore = (await statsOf(server)).cpuMicros;
      const result = await autocannon(group, `${server.base}${urlPath}`, { ...options, durationSeconds: CONFIG.durationSeconds });
      const cpuUsPerRequest = ((await statsOf(server)).cpuMicros - cpuBefore) / Math.max(1, result.total);
      perRound.get(candidate)?.push({ ...result, cpuUsPerRequest });
      log(
        `  round ${round + 1}/${CONFIG.rounds} ${LABELS[candidate]}: ${Math.round(result.rps)} req/s, p99 ${result.p99} ms, ${cpuUsPerRequest.toFixed(1)} CPU µs/request${result.failures ? `, ${result.failures} failures` : ''}`,
      );
    }
  }
  const referenceRuns = perRound.get(reference) ?? [];
  const rows: ThroughputRow[] = [];
  for (const candidate of candidates) {
    const runs = perRound.get(candidate) ?? [];
    const after = await statsOf(serverOf(servers, candidate));
    const before = originBefore.get(candidate) as Stats;
    rows.push({
      candidate,
      rps: summarize(runs.map((run) => run.rps)),
      p99Ms: summarize(runs.map((run) => run.p99)),
      ratio: summarize(runs.map((run, i) => run.rps / (referenceRuns[i]?.rps ?? Number.NaN))),
      cpuUsPerRequest: summarize(runs.map((run) => run.cpuUsPerRequest)),
      cpuRatio: summarize(runs.map((run, i) => (referenceRuns[i]?.cpuUsPerRequest ?? Number.NaN) / run.cpuUsPerRequest)),
      failures: runs.reduce((sum, run) => sum + run.failures, 0),
      originCalls: after.originCalls - before.originCalls,
      rounds: { rps: runs.map((run) => run.rps), cpuUs: runs.map((run) => run.cpuUsPerRequest) },
    });
  }
  return rows;
}

async function hitScenario(group: ProcessGroup, servers: Map<Candidate, Server>): Promise<ThroughputRow[]> {
  log('hit throughput');
  // Fill each cache, and make sure the cached candidates really answer from it.
  for (const candidate of CANDIDATES) {
    const server = serverOf(servers, candidate);
    await probe(`${server.base}/item`);
    const second = await probe(`${server.base}/item`);
    if (second.status !== 200) throw new Error(`${candidate} answered ${second.status} on /item`);
    if (candidate.startsWith('ck-') && second.xCache !== 'HIT') throw new Error(`${candidate} did not hit on the second request (X-Cache: ${second.xCache})`);
  }
  const rows = await throughput(group, servers, [...CANDIDATES], 'buffer', '/item', false);
  for (const row of rows) {
    if (row.candidate !== 'bare' && row.candidate !== 'buffer' && row.originCalls !== 0) {
      log(`  WARNING: ${row.candidate} ran its origin ${row.originCalls} times during the hit rounds (store errors or evictions)`);
    }
  }
  return rows;
}

async function missScenario(group: ProcessGroup, servers: Map<Candidate, Server>): Promise<ThroughputRow[]> {
  log('miss overhead');
  return throughput(group, servers, MISS_CANDIDATES, 'bare', '/item', true);
}

async function stampedeScenario(group: ProcessGroup, servers: Map<Candidate, Server>): Promise<StampedeRow[]> {
  log('stampede');
  const rows: StampedeRow[] = [];
  for (const concurrency of CONFIG.stampedeSizes) {
    const calls = new Map<Candidate, number[]>(STAMPEDE_CANDIDATES.map((c) => [c, []]));
    const p99s = new Map<Candidate, number[]>(STAMPEDE_CANDIDATES.map((c) => [c, []]));
    const failures = new Map<Candidate, number>(STAMPEDE_CANDIDATES.map((c) => [c, 0]));
    for (let round = 0; round < CONFIG.stampedeRounds; round++) {
      for (const candidate of rotated(STAMPEDE_CANDIDATES, round)) {
        const server = serverOf(servers, candidate);
        const before = await statsOf(server);
        // A key no earlier request used: every round starts cold.
        const result = await burst(group, `${server.base}/slow?stampede=${concurrency}-${round}-${Date.now()}`, concurrency);
        const after = await statsOf(server);
        const originCalls = after.slowOriginCalls - before.slowOriginCalls;
        calls.get(candidate)?.push(originCalls);
        p99s.get(candidate)?.push(result.p99);
        failures.set(candidate, (failures.get(candidate) ?? 0) + result.failures);
        log(`  ${concurrency} cold requests, ${LABELS[candidate]}: ${originCalls} origin calls, p99 ${result.p99} ms${result.failures ? `, ${result.failures} failures` : ''}`);
        // Let the sockets of the burst close before the next one.
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
    }
    for (const candidate of STAMPEDE_CANDIDATES) {
      rows.push({
        candidate,
        concurrency,
        originCalls: summarize(calls.get(candidate) ?? []),
        p99Ms: summarize(p99s.get(candidate) ?? []),
        failures: failures.get(candidate) ?? 0,
      });
    }
  }
  return rows;
}

async function memoryScenario(group: ProcessGroup): Promise<BenchResults['memory']> {
  log('memory');
  const run = async (args: string[]): Promise<Record<string, number>> =>
    JSON.parse(await group.run('bench/scenarios/memory.ts', args, { role: 'server', timeoutMs: 120_000 }, ['--expose-gc'])) as Record<string, number>;
  const perEntry = await run(['per-entry', String(CONFIG.memoryCount)]);
  const bound = await run(['bound', String(CONFIG.memoryCount), String(BOUND_MAX_BYTES)]);
  if ((bound.storeBytes ?? Infinity) > BOUND_MAX_BYTES || (bound.peakStoreBytes ?? Infinity) > BOUND_MAX_BYTES) {
    throw new Error(`MemoryStore went past maxBytes: ${JSON.stringify(bound)}`);
  }
  return { perEntry, bound };
}

async function invalidationScenario(group: ProcessGroup, redis: RedisServer): Promise<BenchResults['invalidation']> {
  log('invalidation');
  // Start from an empty keyspace: the miss scenario left many keys behind.
  const admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  try {
    await admin.flushall();
  } finally {
    admin.disconnect();
  }
  interface Round {
    pattern: { ms: number; probeP99Ms: number; probeMaxMs: number };
    tags: { ms: number; fillMs: number } | { skipped: string };
  }
  const rounds: Round[] = [];
  for (let round = 0; round < CONFIG.invalidationRounds; round++) {
    const stdout = await group.run('bench/scenarios/invalidation.ts', [redis.url, String(CONFIG.invalidationCount), String(round)], { role: 'server', timeoutMs: 180_000 });
    const result = JSON.parse(stdout) as Round;
    rounds.push(result);
    log(`  round ${round + 1}: pattern ${Math.round(result.pattern.ms)} ms${'skipped' in result.tags ? `; tags skipped: ${result.tags.skipped}` : `; tags ${Math.round(result.tags.ms)} ms`}`);
  }
  const tagRounds = rounds.map((r) => r.tags).filter((t): t is { ms: number; fillMs: number } => !('skipped' in t));
  const skipped = rounds.map((r) => r.tags).find((t): t is { skipped: string } => 'skipped' in t);
  return {
    count: CONFIG.invalidationCount,
    patternMs: summarize(rounds.map((r) => r.pattern.ms)),
    probeP99Ms: summarize(rounds.map((r) => r.pattern.probeP99Ms)),
    probeMaxMs: summarize(rounds.map((r) => r.pattern.probeMaxMs)),
    tags: skipped ? skipped : { ms: summarize(tagRounds.map((t) => t.ms)), fillMs: summarize(tagRounds.map((t) => t.fillMs)) },
  };
}

const loadAvg = (): string => os.loadavg().map((n) => n.toFixed(2)).join(' ');

async function main(): Promise<void> {
  const started = Date.now();
  const pinning = detectPinning();
  const group = new ProcessGroup(pinning);
  let redis: RedisServer | undefined;
  const cleanup = async (): Promise<void> => {
    group.killAll();
    if (redis) {
      group.release(redis.pid);
      await redis.stop();
    }
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    log(`${signal}: stopping every process the benchmark started`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  setTimeout(() => {
    log(`the run passed its ${RUN_DEADLINE_MS / 60_000} minute limit: stopping`);
    void cleanup().finally(() => process.exit(2));
  }, RUN_DEADLINE_MS).unref();

  log(`${QUICK ? 'QUICK smoke run (numbers are not measurements)' : 'full run'}; pinning: ${pinning ? `server on CPU ${pinning.server}, load generator and redis-server on CPU ${pinning.load}` : 'none (no taskset or fewer than 2 CPUs)'}`);
  const loadAvgStart = loadAvg();
  try {
    const scenarios = selectedScenarios();
    if (process.env.BENCH_LIB !== 'source') {
      // The apps run the compiled package, as users do: build it from the sources as they are now.
      log('building dist/ (npm run build; BENCH_LIB=source runs the TypeScript sources instead)');
      execFileSync('npm', ['run', '--silent', 'build'], { cwd: path.join(__dirname, '..'), stdio: ['ignore', 'ignore', 'inherit'] });
    }
    redis = await startRedisServer({ args: ['--maxmemory', '512mb', '--maxmemory-policy', 'allkeys-lru'] });
    group.adopt(redis.pid, 'load');
    const cacheErrors: Record<string, number> = {};
    let hit: ThroughputRow[] | undefined;
    let miss: ThroughputRow[] | undefined;
    let stampede: StampedeRow[] | undefined;
    if (scenarios.has('hit') || scenarios.has('miss') || scenarios.has('stampede')) {
      const servers = await startServers(group, redis);
      if (scenarios.has('hit')) hit = await hitScenario(group, servers);
      if (scenarios.has('miss')) miss = await missScenario(group, servers);
      if (scenarios.has('stampede')) stampede = await stampedeScenario(group, servers);
      for (const server of servers.values()) cacheErrors[server.candidate] = (await statsOf(server)).cacheErrors;
      for (const server of servers.values()) await group.stop(server.child);
    }
    const memory = scenarios.has('memory') ? await memoryScenario(group) : undefined;
    const invalidation = scenarios.has('invalidation') ? await invalidationScenario(group, redis) : undefined;
    const stores: StoresResults | undefined = scenarios.has('stores') ? await storesScenario(group, redis.url, { ...CONFIG, ops: QUICK ? 500 : 5_000 }, log) : undefined;
    // Its own results files (bench/results/tiers.*), so the main report stays as it was.
    const tiersConfig = { rounds: QUICK ? 1 : 5, durationSeconds: CONFIG.durationSeconds, warmupSeconds: CONFIG.warmupSeconds, connections: CONFIG.connections, quick: QUICK };
    const tiers = scenarios.has('tiers') ? await tiersScenario(group, redis.url, tiersConfig, log) : undefined;
    const metrics = scenarios.has('metrics') ? await metricsScenario(group, CONFIG, log) : undefined;
    const refresh = scenarios.has('refresh') ? await refreshScenario(group, CONFIG, log) : undefined;

    const results: BenchResults = {
      meta: {
        date: new Date().toISOString(),
        mode: `${QUICK ? 'BENCH_QUICK (smoke test)' : 'full'}${process.env.BENCH_SCENARIOS ? ` (only ${process.env.BENCH_SCENARIOS})` : ''}`,
        node: process.versions.node,
        os: `${os.type()} ${os.release()}`,
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
        pinning: pinning ? `server CPU ${pinning.server}, load+redis CPU ${pinning.load}` : 'none',
        rounds: CONFIG.rounds,
        durationSeconds: CONFIG.durationSeconds,
        warmupSeconds: CONFIG.warmupSeconds,
        connections: CONFIG.connections,
        library: process.env.BENCH_LIB === 'source' ? 'TypeScript sources (tsx)' : 'dist/ (compiled)',
        loadAvgStart,
        loadAvgEnd: loadAvg(),
        elapsedSeconds: Math.round((Date.now() - started) / 1000),
        cacheErrors,
        versions: {
          express: versionOf('express'),
          apicache: versionOf('apicache'),
          redisClientForApicache: versionOf('redis'),
          ioredis: versionOf('ioredis'),
          autocannon: versionOf('autocannon'),
          redisServer: redisServerVersion(),
        },
      },
      hit: hit && { reference: 'buffer', rows: hit },
      miss: miss && { reference: 'bare', rows: miss },
      stampede: stampede && { originDelayMs: 50, rows: stampede },
      memory,
      invalidation,
      metrics,
      refresh,
    };
    const markdown = stores ? `${renderMarkdown(results)}\n\n${renderStores(stores)}` : renderMarkdown(results);
    mkdirSync(RESULTS_DIR, { recursive: true });
    // Smoke runs and partial runs (BENCH_SCENARIOS) must not overwrite the published results.
    const stem = process.env.BENCH_SCENARIOS ? 'partial' : QUICK ? 'quick' : 'latest';
    writeFileSync(path.join(RESULTS_DIR, `${stem}.json`), `${JSON.stringify({ ...results, stores }, null, 2)}\n`);
    writeFileSync(path.join(RESULTS_DIR, `${stem}.md`), `${markdown}\n`);
    const chart = renderHitChart(results);
    if (chart) writeFileSync(path.join(RESULTS_DIR, stem === 'latest' ? 'hit-throughput.svg' : `${stem}-hit-throughput.svg`), chart);
    // One source of truth for figures: the bench README quotes latest.md, written here.
    if (stem === 'latest') {
      const benchReadme = path.join(RESULTS_DIR, '..', 'README.md');
      writeFileSync(benchReadme, quoteBetween(readFileSync(benchReadme, 'utf8'), LATEST_START, LATEST_END, markdown));
      const readme = path.join(RESULTS_DIR, '..', '..', 'README.md');
      writeFileSync(readme, quoteBetween(readFileSync(readme, 'utf8'), SUMMARY_START, SUMMARY_END, summaryOf(markdown)));
    }
    process.stdout.write(`${markdown}\n`);
    if (tiers) process.stdout.write(`${renderTiers(tiers)}\n`);
    log(`done in ${results.meta.elapsedSeconds as number} s; wrote bench/results/${stem}.json, ${stem}.md and the hit chart`);
  } finally {
    await cleanup();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    log(`failed: ${error instanceof Error ? error.stack : String(error)}`);
    process.exit(1);
  },
);
