/**
 * Metrics overhead scenario (issue 15): hit throughput of `cacheResponse` + MemoryStore with
 * every observability listener on (Prometheus, dashboard, tracing subscribers) against the same
 * app without them, in interleaved rounds on two processes (`metrics-server.ts`). The target is
 * a best-round ratio of at least 0.97.
 */
import { type LoadResult, autocannon, getJson, probe } from '../lib/load';
import type { ProcessGroup } from '../lib/processes';
import { type Summary, summarize } from '../lib/stats';

/** What the scenario reports. */
export interface MetricsOverhead {
  plainRps: Summary;
  metricsRps: Summary;
  plainCpuUsPerRequest: Summary;
  metricsCpuUsPerRequest: Summary;
  /** Best metrics round / best plain round (interference only ever slows a round down). */
  bestRpsRatio: number;
  /** Least CPU per request, plain / metrics. */
  bestCpuRatio: number;
  /** Median of the per-round ratios. */
  medianRpsRatio: number;
}

const VARIANTS = ['plain', 'metrics'] as const;

export async function metricsScenario(
  group: ProcessGroup,
  config: { rounds: number; durationSeconds: number; warmupSeconds: number; connections: number },
  log: (line: string) => void,
): Promise<MetricsOverhead> {
  log('metrics overhead (hit with every listener vs none)');
  const bases: Record<string, string> = {};
  const children = [];
  for (const variant of VARIANTS) {
    const { child, ready } = await group.startService<{ port: number }>('bench/scenarios/metrics-server.ts', [variant], 'server', { NODE_ENV: 'production' }, 30_000);
    children.push(child);
    bases[variant] = `http://127.0.0.1:${ready.port}`;
  }
  try {
    for (const variant of VARIANTS) {
      await probe(`${bases[variant]}/item`);
      const check = await probe(`${bases[variant]}/item`);
      if (check.xCache !== 'HIT') throw new Error(`${variant}: /item answered X-Cache ${String(check.xCache)}, expected HIT`);
      await autocannon(group, `${bases[variant]}/item`, { connections: config.connections, durationSeconds: config.warmupSeconds });
    }
    const runs: Record<string, Array<LoadResult & { cpu: number }>> = { plain: [], metrics: [] };
    for (let round = 0; round < config.rounds; round++) {
      for (const variant of round % 2 === 0 ? VARIANTS : [...VARIANTS].reverse()) {
        const before = (await getJson<{ cpuMicros: number }>(`${bases[variant]}/stats`)).cpuMicros;
        const result = await autocannon(group, `${bases[variant]}/item`, { connections: config.connections, durationSeconds: config.durationSeconds });
        const cpu = ((await getJson<{ cpuMicros: number }>(`${bases[variant]}/stats`)).cpuMicros - before) / Math.max(1, result.total);
        runs[variant]?.push({ ...result, cpu });
        log(`  round ${round + 1}/${config.rounds} ${variant}: ${Math.round(result.rps)} req/s, ${cpu.toFixed(1)} CPU µs/request`);
      }
    }
    const plain = runs.plain ?? [];
    const metrics = runs.metrics ?? [];
    const result: MetricsOverhead = {
      plainRps: summarize(plain.map((r) => r.rps)),
      metricsRps: summarize(metrics.map((r) => r.rps)),
      plainCpuUsPerRequest: summarize(plain.map((r) => r.cpu)),
      metricsCpuUsPerRequest: summarize(metrics.map((r) => r.cpu)),
      bestRpsRatio: Math.max(...metrics.map((r) => r.rps)) / Math.max(...plain.map((r) => r.rps)),
      bestCpuRatio: Math.min(...plain.map((r) => r.cpu)) / Math.min(...metrics.map((r) => r.cpu)),
      medianRpsRatio: summarize(metrics.map((r, i) => r.rps / (plain[i]?.rps ?? Number.NaN))).median,
    };
    log(`  metrics/plain: best ${result.bestRpsRatio.toFixed(3)}× req/s, ${result.bestCpuRatio.toFixed(3)}× CPU, median ${result.medianRpsRatio.toFixed(3)}× (target >= 0.97)`);
    return result;
  } finally {
    for (const child of children) await group.stop(child);
  }
}
