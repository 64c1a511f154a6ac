/**
 * Refresh scenario: what a client pays for the first request after an expiry, with background
 * revalidation (`refresh`) and with the foreground revalidation (`plain`, `backgroundRefresh:
 * false`), and the hit throughput with `refreshAhead` on against off, in interleaved rounds on
 * two processes (`refresh-server.ts`). Targets: the first request after expiry costs about a
 * hit (not the handler's 50 ms); refresh-ahead keeps the hit throughput within 3%.
 */
import { type LoadResult, autocannon, getJson, probe } from '../lib/load';
import type { ProcessGroup } from '../lib/processes';
import { type Summary, summarize } from '../lib/stats';

/** What the scenario reports. */
export interface RefreshResults {
  /** Latency of the first request after an expiry, in ms, per variant. */
  plainFirstAfterExpiryMs: Summary;
  refreshFirstAfterExpiryMs: Summary;
  plainHitRps: Summary;
  aheadHitRps: Summary;
  /** Best refresh-ahead round / best plain round. */
  bestHitRatio: number;
  /** Median of the per-round ratios. */
  medianHitRatio: number;
}

const VARIANTS = ['plain', 'refresh'] as const;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Times `samples` first requests after an expiry of `/expiring` (the entry lives 0.2 s). */
async function firstAfterExpiry(base: string, samples: number): Promise<number[]> {
  const times: number[] = [];
  await probe(`${base}/expiring`);
  for (let i = 0; i < samples; i++) {
    // Past the TTL, and past any refresh still running from the previous sample.
    await sleep(300);
    const started = performance.now();
    await probe(`${base}/expiring`);
    times.push(performance.now() - started);
  }
  return times;
}

export async function refreshScenario(
  group: ProcessGroup,
  config: { rounds: number; durationSeconds: number; warmupSeconds: number; connections: number },
  log: (line: string) => void,
): Promise<RefreshResults> {
  log('refresh (first request after expiry; hit with refreshAhead on vs off)');
  const bases: Record<string, string> = {};
  const children = [];
  for (const variant of VARIANTS) {
    const { child, ready } = await group.startService<{ port: number }>('bench/scenarios/refresh-server.ts', [variant], 'server', { NODE_ENV: 'production' }, 30_000);
    children.push(child);
    bases[variant] = `http://127.0.0.1:${ready.port}`;
  }
  try {
    const first: Record<string, number[]> = { plain: [], refresh: [] };
    for (const variant of VARIANTS) {
      first[variant] = await firstAfterExpiry(bases[variant] as string, Math.max(5, config.rounds * 2));
      log(`  ${variant}: first request after expiry, median ${summarize(first[variant] ?? []).median.toFixed(1)} ms`);
    }
    for (const variant of VARIANTS) {
      await probe(`${bases[variant]}/item`);
      const check = await probe(`${bases[variant]}/item`);
      if (check.xCache !== 'HIT') throw new Error(`${variant}: /item answered X-Cache ${String(check.xCache)}, expected HIT`);
      await autocannon(group, `${bases[variant]}/item`, { connections: config.connections, durationSeconds: config.warmupSeconds });
    }
    const runs: Record<string, LoadResult[]> = { plain: [], refresh: [] };
    for (let round = 0; round < config.rounds; round++) {
      for (const variant of round % 2 === 0 ? VARIANTS : [...VARIANTS].reverse()) {
        await getJson(`${bases[variant]}/stats`);
        const result = await autocannon(group, `${bases[variant]}/item`, { connections: config.connections, durationSeconds: config.durationSeconds });
        runs[variant]?.push(result);
        log(`  round ${round + 1}/${config.rounds} ${variant}: ${Math.round(result.rps)} req/s`);
      }
    }
    const plain = runs.plain ?? [];
    const ahead = runs.refresh ?? [];
    const result: RefreshResults = {
      plainFirstAfterExpiryMs: summarize(first.plain ?? []),
      refreshFirstAfterExpiryMs: summarize(first.refresh ?? []),
      plainHitRps: summarize(plain.map((r) => r.rps)),
      aheadHitRps: summarize(ahead.map((r) => r.rps)),
      bestHitRatio: Math.max(...ahead.map((r) => r.rps)) / Math.max(...plain.map((r) => r.rps)),
      medianHitRatio: summarize(ahead.map((r, i) => r.rps / (plain[i]?.rps ?? Number.NaN))).median,
    };
    log(`  refreshAhead/plain hits: best ${result.bestHitRatio.toFixed(3)}×, median ${result.medianHitRatio.toFixed(3)}× (target >= 0.97)`);
    return result;
  } finally {
    for (const child of children) await group.stop(child);
  }
}
