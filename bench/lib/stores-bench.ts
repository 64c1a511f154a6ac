import { type PostgresServer, startPostgresServer } from '../../__tests__/helpers/postgres-server';
import { type LoadResult, autocannon, getJson, probe } from './load';
import type { ProcessGroup } from './processes';
import { type Summary, summarize } from './stats';

/** The stores compared by the `stores` scenario, in table order. */
const KINDS = ['memory', 'redis', 'sqlite', 'postgres'] as const;
const LABELS: Record<(typeof KINDS)[number], string> = { memory: 'MemoryStore', redis: 'RedisStore', sqlite: 'SqliteStore (file, WAL)', postgres: 'PostgresStore' };

interface OpSummary {
  p50Us: number;
  p99Us: number;
  meanUs: number;
}

/** What the `stores` scenario measured. */
export interface StoresResults {
  ops: number;
  latency: Record<string, { set: OpSummary; get: OpSummary; misses: number } | Record<string, Record<string, number>>>;
  hit: Array<{ store: string; rps: Summary; p99Ms: Summary; failures: number; originCalls: number; cacheErrors: number }>;
}

/**
 * Runs the store scenario: starts a throwaway PostgreSQL (the test suite's harness), measures
 * get/set latency and prune times in one process, then hit throughput through `cacheResponse`
 * on each store, each app in its own process, in interleaved rounds.
 */
export async function storesScenario(
  group: ProcessGroup,
  redisUrl: string,
  config: { rounds: number; durationSeconds: number; warmupSeconds: number; connections: number; ops: number },
  log: (line: string) => void,
): Promise<StoresResults> {
  log('stores');
  let postgres: PostgresServer | undefined;
  try {
    postgres = await startPostgresServer();
    group.adopt(postgres.pid, 'load');
    const stdout = await group.run('bench/scenarios/stores.ts', ['latency', redisUrl, postgres.url, String(config.ops)], { role: 'server', timeoutMs: 300_000 });
    const latency = JSON.parse(stdout) as StoresResults['latency'];
    for (const kind of KINDS) {
      const row = latency[kind] as { set: OpSummary; get: OpSummary };
      log(`  ${LABELS[kind]}: get p50 ${row.get.p50Us} µs p99 ${row.get.p99Us} µs; set p50 ${row.set.p50Us} µs p99 ${row.set.p99Us} µs`);
    }
    log(`  prune: ${JSON.stringify(latency.prune)}`);

    const servers = new Map<string, { base: string; child: Awaited<ReturnType<ProcessGroup['startService']>>['child'] }>();
    for (const kind of KINDS) {
      const { child, ready } = await group.startService<{ port: number }>('bench/scenarios/stores.ts', ['serve', kind, redisUrl, postgres.url], 'server', { NODE_ENV: 'production' }, 30_000);
      const base = `http://127.0.0.1:${ready.port}`;
      servers.set(kind, { base, child });
      await probe(`${base}/item`);
      // The write happens after the first answer; give it a moment before insisting on a hit.
      let second = await probe(`${base}/item`);
      for (let i = 0; i < 50 && second.xCache !== 'HIT'; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        second = await probe(`${base}/item`);
      }
      if (second.xCache !== 'HIT') throw new Error(`${kind} did not hit on /item (X-Cache: ${second.xCache})`);
      await autocannon(group, `${base}/item`, { connections: config.connections, durationSeconds: config.warmupSeconds });
    }
    const before = new Map<string, { originCalls: number }>();
    for (const [kind, server] of servers) before.set(kind, await getJson(`${server.base}/stats`));
    const runs = new Map<string, LoadResult[]>(KINDS.map((kind) => [kind, []]));
    for (let round = 0; round < config.rounds; round++) {
      const order = [...KINDS.slice(round % KINDS.length), ...KINDS.slice(0, round % KINDS.length)];
      for (const kind of order) {
        const result = await autocannon(group, `${servers.get(kind)?.base}/item`, { connections: config.connections, durationSeconds: config.durationSeconds });
        runs.get(kind)?.push(result);
        log(`  round ${round + 1}/${config.rounds} ${LABELS[kind]}: ${Math.round(result.rps)} req/s, p99 ${result.p99} ms`);
      }
    }
    const hit: StoresResults['hit'] = [];
    for (const kind of KINDS) {
      const server = servers.get(kind) as { base: string; child: Parameters<ProcessGroup['stop']>[0] };
      const stats = await getJson<{ originCalls: number; cacheErrors: number }>(`${server.base}/stats`);
      const results = runs.get(kind) ?? [];
      hit.push({
        store: LABELS[kind],
        rps: summarize(results.map((r) => r.rps)),
        p99Ms: summarize(results.map((r) => r.p99)),
        failures: results.reduce((sum, r) => sum + r.failures, 0),
        originCalls: stats.originCalls - (before.get(kind)?.originCalls ?? 0),
        cacheErrors: stats.cacheErrors,
      });
      await group.stop(server.child);
    }
    return { ops: config.ops, latency, hit };
  } finally {
    if (postgres) {
      group.release(postgres.pid);
      await postgres.stop();
    }
  }
}

/** The scenario's Markdown section, with the seeds' targets beside what was measured. */
export function renderStores(results: StoresResults): string {
  const lines = [
    '## Stores: get/set latency, hit throughput, prune',
    '',
    `Sequential operations from one process (${results.ops} sets of 1 KB, then ${results.ops} gets of random written keys), each timed alone, in µs:`,
    '',
    '| store | get p50 | get p99 | set p50 | set p99 |',
    '| --- | ---: | ---: | ---: | ---: |',
  ];
  for (const kind of KINDS) {
    const row = results.latency[kind] as { set: OpSummary; get: OpSummary } | undefined;
    if (row) lines.push(`| ${LABELS[kind]} | ${row.get.p50Us} | ${row.get.p99Us} | ${row.set.p50Us} | ${row.set.p99Us} |`);
  }
  lines.push('', 'Hit throughput through `cacheResponse` (req/s, median [min–max] over rounds):', '', '| store | req/s | p99 ms | origin calls | failures |', '| --- | ---: | ---: | ---: | ---: |');
  for (const row of results.hit) {
    lines.push(`| ${row.store} | ${Math.round(row.rps.median)} [${Math.round(row.rps.min)}–${Math.round(row.rps.max)}] | ${row.p99Ms.median} | ${row.originCalls} | ${row.failures} |`);
  }
  const prune = results.latency.prune as Record<string, Record<string, number>> | undefined;
  const ms = (store: string, count: number): string => (prune?.[store]?.[`ms${count}`] ?? Number.NaN).toFixed(1);
  if (prune) {
    lines.push(
      '',
      '`prune()` of expired rows (1,000 live rows kept), ms:',
      '',
      '| store | 50 expired | 100,000 expired |',
      '| --- | ---: | ---: |',
      `| SqliteStore | ${ms('sqlite', 50)} | ${ms('sqlite', 100_000)} |`,
      `| PostgresStore | ${ms('postgres', 50)} | ${ms('postgres', 100_000)} |`,
    );
  }
  const sqlite = results.latency.sqlite as { get: OpSummary } | undefined;
  if (sqlite && prune) {
    lines.push(
      '',
      `Seed 002's targets: SQLite lookup < 1 ms (measured: get p99 ${sqlite.get.p99Us} µs, ${sqlite.get.p99Us < 1_000 ? 'met' : 'NOT met'}); cleanup of 50 entries < 100 ms (measured ${ms('sqlite', 50)} ms, ${(prune.sqlite?.ms50 ?? Infinity) < 100 ? 'met' : 'NOT met'}).`,
    );
  }
  return lines.join('\n');
}
