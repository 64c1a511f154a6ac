import type { MetricsOverhead } from '../scenarios/metrics';
import type { RefreshResults } from '../scenarios/refresh';
import { type Candidate, LABELS } from './candidates';
import { type Summary, summarize } from './stats';

/** One candidate in a throughput scenario (hit or miss). */
export interface ThroughputRow {
  candidate: Candidate;
  rps: Summary;
  p99Ms: Summary;
  /** Per-round ratio of this candidate's req/s to the reference candidate's in the same round. */
  ratio: Summary;
  /** Server CPU time (user + system) per answered request, in microseconds. */
  cpuUsPerRequest: Summary;
  /** Per-round ratio of the reference's CPU µs per request to this candidate's. */
  cpuRatio: Summary;
  /** Non-2xx answers, socket errors and timeouts, over all rounds. */
  failures: number;
  /** How often the origin handler ran during the measured rounds (a hit scenario wants 0). */
  originCalls: number;
  /** Each round's req/s and CPU µs per request, in round order (for ratios between any two candidates). */
  rounds: { rps: number[]; cpuUs: number[] };
}

/** One candidate at one stampede size. */
export interface StampedeRow {
  candidate: Candidate;
  concurrency: number;
  originCalls: Summary;
  p99Ms: Summary;
  failures: number;
}

/** Everything `npm run bench` measured, as written to `bench/results/latest.json`. A section is absent when `BENCH_SCENARIOS` left it out. */
export interface BenchResults {
  meta: Record<string, unknown>;
  hit?: { reference: Candidate; rows: ThroughputRow[] };
  miss?: { reference: Candidate; rows: ThroughputRow[] };
  stampede?: { originDelayMs: number; rows: StampedeRow[] };
  memory?: { perEntry: Record<string, number>; bound: Record<string, number> };
  invalidation?: {
    count: number;
    patternMs: Summary;
    probeP99Ms: Summary;
    probeMaxMs: Summary;
    tags: { ms: Summary; fillMs: Summary } | { skipped: string };
  };
  /** Hit throughput with every observability listener on vs none (bench/scenarios/metrics.ts). */
  metrics?: MetricsOverhead;
  /** First request after an expiry (background vs foreground revalidation) and hit throughput with refreshAhead (bench/scenarios/refresh.ts). */
  refresh?: RefreshResults;
}

const int = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
/** `n` with `digits` decimals, or `n/a`. */
export const fixed = (n: number, digits: number): string => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
/** "median (min–max)" of `s`, each formatted by `format`. */
export const spread = (s: Summary, format: (n: number) => string): string => `${format(s.median)} (${format(s.min)}–${format(s.max)})`;
const mib = (bytes: number | undefined): string => (bytes === undefined ? 'n/a' : `${(bytes / 1024 / 1024).toFixed(1)} MiB`);

/**
 * The best round of each candidate (most req/s, least CPU per request) against the reference's
 * best round. On a shared machine, interference only ever makes a round slower, so best rounds
 * are the closest estimate of what each candidate costs by itself.
 */
export function bestRatios(row: Measured, reference: Measured): { rps: number; cpu: number } {
  return { rps: row.rps.max / reference.rps.max, cpu: reference.cpuUsPerRequest.min / row.cpuUsPerRequest.min };
}

/** What the ratios between two candidates are taken from. */
export type Measured = Pick<ThroughputRow, 'rps' | 'cpuUsPerRequest' | 'rounds'>;

/** {@link Measured} from each round's req/s and CPU µs per request, in round order. */
export function measured(rounds: ThroughputRow['rounds']): Measured {
  return { rps: summarize(rounds.rps), cpuUsPerRequest: summarize(rounds.cpuUs), rounds };
}

/** `row`'s req/s over `other`'s, round by round (both ran in every round): min, median and max. */
export function perRoundRatios(row: Measured, other: Measured): Summary {
  return summarize(row.rounds.rps.map((rps, i) => rps / (other.rounds.rps[i] ?? Number.NaN)));
}

/** "×best req/s and ×best CPU (best rounds), ×median per round (min–max)" of `row` against `other`. */
export function against(row: Measured, other: Measured): string {
  const best = bestRatios(row, other);
  const round = perRoundRatios(row, other);
  return `×${fixed(best.rps, 2)} req/s and ×${fixed(best.cpu, 2)} by CPU (best rounds), ×${fixed(round.median, 2)} per round (${fixed(round.min, 2)}–${fixed(round.max, 2)})`;
}

function throughputTable(rows: ThroughputRow[], reference: Candidate, ratioHeader: string): string[] {
  const referenceRow = rows.find((row) => row.candidate === reference);
  const lines = [
    `| candidate | req/s median (min–max) | ${ratioHeader}, per round: median (min–max) | ${ratioHeader}, best rounds: req/s · CPU | server CPU µs/request median (min–max) | p99 ms median (min–max) | origin calls | failures |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const row of rows) {
    const isReference = row.candidate === reference;
    const best = referenceRow ? bestRatios(row, referenceRow) : { rps: Number.NaN, cpu: Number.NaN };
    const perRound = isReference ? '1 (reference)' : spread(row.ratio, (n) => fixed(n, 2));
    const bestCell = isReference ? '1 (reference)' : `${fixed(best.rps, 2)} · ${fixed(best.cpu, 2)}`;
    lines.push(
      `| ${LABELS[row.candidate]} | ${spread(row.rps, int)} | ${perRound} | ${bestCell} | ${spread(row.cpuUsPerRequest, (n) => fixed(n, 1))} | ${spread(row.p99Ms, (n) => fixed(n, 1))} | ${int(row.originCalls)} | ${row.failures} |`,
    );
  }
  return lines;
}

/** The results as Markdown: what `npm run bench` prints and `bench/README.md` quotes. */
export function renderMarkdown(results: BenchResults): string {
  const { meta, hit, miss, stampede, memory, invalidation } = results;
  const out: string[] = [];
  out.push(`Run ${String(meta.date)} · ${String(meta.mode)} · ${String(meta.cpus)} × ${String(meta.cpuModel)} · Node ${String(meta.node)} · pinning: ${String(meta.pinning)}`);
  out.push(
    `Rounds: ${String(meta.rounds)} × ${String(meta.durationSeconds)} s per candidate, ${String(meta.connections)} connections, candidates interleaved; load average ${String(meta.loadAvgStart)} → ${String(meta.loadAvgEnd)}.`,
  );
  if (hit || miss) {
    out.push(
      '',
      'Ratios: "per round" divides each round by the reference run in the same round; "best rounds" divides the best round of each (most req/s; least server CPU per request), the closest estimate of intrinsic cost when other work shares the machine.',
    );
  }
  if (hit) {
    out.push('', '### Hit throughput (~1 KB JSON, every request the same URL)', '');
    out.push(...throughputTable(hit.rows, hit.reference, '× ceiling'));
    const find = (candidate: Candidate): ThroughputRow | undefined => hit.rows.find((row) => row.candidate === candidate);
    const [ours, ceiling, apicacheMemory, oursRedis, rawGet] = [find('ck-memory'), find(hit.reference), find('apicache-memory'), find('ck-redis'), find('redis-get')];
    out.push('');
    if (ours && ceiling) out.push(`- cacheResponse + MemoryStore against the ceiling: ${against(ours, ceiling)}.`);
    if (ours && apicacheMemory) out.push(`- cacheResponse + MemoryStore against apicache (memory): ${against(ours, apicacheMemory)}.`);
    if (oursRedis && rawGet) out.push(`- cacheResponse + RedisStore against one raw ioredis GET: ${against(oursRedis, rawGet)}.`);
  }
  if (miss) {
    out.push('', '### Miss overhead (every request a new key)', '');
    out.push(...throughputTable(miss.rows, miss.reference, '× bare'));
  }
  if (stampede) {
    out.push('', `### Stampede (cold key, origin takes ${stampede.originDelayMs} ms, all requests sent at once)`, '');
    out.push('| concurrent requests | candidate | origin calls median (min–max) | p99 ms median (min–max) | failures |');
    out.push('| ---: | --- | ---: | ---: | ---: |');
    for (const row of stampede.rows) {
      out.push(`| ${int(row.concurrency)} | ${LABELS[row.candidate]} | ${spread(row.originCalls, int)} | ${spread(row.p99Ms, (n) => fixed(n, 0))} | ${row.failures} |`);
    }
  }
  if (memory) {
    out.push('', '### Memory (MemoryStore, entries of 1 KB)', '');
    const per = memory.perEntry;
    out.push(
      `- ${int(per.entries ?? Number.NaN)} entries: RSS +${mib(per.rssDelta)} (${int(per.rssPerEntry ?? Number.NaN)} B per entry), V8 heap +${mib(per.heapDelta)}, Buffers (external) +${mib(per.externalDelta)}; store.bytes ${mib(per.storeBytes)}.`,
    );
    const bound = memory.bound;
    out.push(
      `- maxBytes ${mib(bound.maxBytes)}, ${mib(bound.attemptedBytes)} written: store.bytes ${mib(bound.storeBytes)} (peak ${mib(bound.peakStoreBytes)}), ${int(bound.entries ?? Number.NaN)} entries kept; Buffers (external) +${mib(bound.externalDeltaAfterPass2)}; RSS +${mib(bound.rssDeltaAfterPass1)} after the first half, +${mib(bound.rssDeltaAfterPass2)} after the second.`,
    );
  }
  if (invalidation) {
    out.push('', `### Invalidation on Redis (${int(invalidation.count)} matching keys among ${int(2 * invalidation.count)})`, '');
    out.push(
      `- invalidatePattern('character:*'): ${spread(invalidation.patternMs, int)} ms; meanwhile a probe client's GET p99 ${spread(invalidation.probeP99Ms, (n) => fixed(n, 1))} ms, max ${spread(invalidation.probeMaxMs, (n) => fixed(n, 1))} ms.`,
    );
    if ('skipped' in invalidation.tags) out.push(`- tags: skipped (${invalidation.tags.skipped}).`);
    else out.push(`- invalidateTags(['bench-all']): ${spread(invalidation.tags.ms, int)} ms (filling took ${spread(invalidation.tags.fillMs, int)} ms).`);
  }
  if (results.metrics) {
    const m = results.metrics;
    out.push('', '### Metrics overhead on a hit (MemoryStore; Prometheus + dashboard + tracing subscribers vs none)', '');
    out.push(`- without: ${spread(m.plainRps, int)} req/s, ${spread(m.plainCpuUsPerRequest, (n) => fixed(n, 1))} CPU µs/request`);
    out.push(`- with: ${spread(m.metricsRps, int)} req/s, ${spread(m.metricsCpuUsPerRequest, (n) => fixed(n, 1))} CPU µs/request`);
    out.push(`- ratio with/without: best rounds ${fixed(m.bestRpsRatio, 3)}× req/s and ${fixed(m.bestCpuRatio, 3)}× CPU; median of rounds ${fixed(m.medianRpsRatio, 3)}× (target ≥ 0.97)`);
  }
  if (results.refresh) {
    const r = results.refresh;
    out.push('', '### Refresh (MemoryStore; a 50 ms handler, TTL 0.2 s, stale-while-revalidate 60 s)', '');
    out.push(`- first request after an expiry: foreground revalidation ${spread(r.plainFirstAfterExpiryMs, (n) => fixed(n, 1))} ms, background revalidation ${spread(r.refreshFirstAfterExpiryMs, (n) => fixed(n, 1))} ms`);
    out.push(`- hits: refreshAhead off ${spread(r.plainHitRps, int)} req/s, on ${spread(r.aheadHitRps, int)} req/s; on/off best rounds ${fixed(r.bestHitRatio, 3)}×, median of rounds ${fixed(r.medianHitRatio, 3)}× (target ≥ 0.97)`);
  }
  return out.join('\n');
}

const escapeXml = (text: string): string => text.replace(/[<>&"]/g, (ch) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[ch] as string);

/**
 * A horizontal bar chart of hit throughput: median req/s per candidate with a min–max whisker,
 * and the ratios to the ceiling (best rounds and per-round median) after each bar. Plain SVG.
 */
export function renderHitChart(results: BenchResults): string | undefined {
  const hit = results.hit;
  const referenceRow = hit?.rows.find((row) => row.candidate === hit.reference);
  if (!hit || !referenceRow) return undefined;
  const finite = (n: number): number => (Number.isFinite(n) ? n : 0);
  const labelWidth = 250;
  const plotWidth = 380;
  const rowHeight = 36;
  const top = 56;
  const width = labelWidth + plotWidth + 290;
  const height = top + hit.rows.length * rowHeight + 40;
  const maxValue = Math.max(1, ...hit.rows.map((row) => finite(row.rps.max)));
  const x = (value: number): number => labelWidth + (plotWidth * finite(value)) / maxValue;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="13">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    '<text x="12" y="22" font-size="15" font-weight="bold">Cache-hit throughput, ~1 KB JSON body (median req/s, whisker = min–max over rounds)</text>',
    `<text x="12" y="40" fill="#555">${escapeXml(`${String(results.meta.date)} · ${String(results.meta.cpus)} cores · pinning: ${String(results.meta.pinning)} · ${String(results.meta.mode)} · ${String(results.meta.rounds)} rounds of ${String(results.meta.durationSeconds)} s`)}</text>`,
  ];
  hit.rows.forEach((row, i) => {
    const y = top + i * rowHeight;
    const fill = row.candidate.startsWith('ck-') ? '#2b6cb0' : row.candidate.startsWith('apicache') ? '#dd6b20' : '#718096';
    const mid = y + 11;
    parts.push(`<text x="${labelWidth - 8}" y="${mid + 4}" text-anchor="end">${escapeXml(LABELS[row.candidate])}</text>`);
    parts.push(`<rect x="${labelWidth}" y="${y}" width="${Math.max(1, x(row.rps.median) - labelWidth).toFixed(1)}" height="22" fill="${fill}"/>`);
    parts.push(`<line x1="${x(row.rps.min).toFixed(1)}" y1="${mid}" x2="${x(row.rps.max).toFixed(1)}" y2="${mid}" stroke="#1a202c" stroke-width="1.5"/>`);
    for (const end of [row.rps.min, row.rps.max]) {
      parts.push(`<line x1="${x(end).toFixed(1)}" y1="${mid - 6}" x2="${x(end).toFixed(1)}" y2="${mid + 6}" stroke="#1a202c" stroke-width="1.5"/>`);
    }
    const best = bestRatios(row, referenceRow);
    const text = row.candidate === hit.reference ? `${int(row.rps.median)}/s · ceiling` : `${int(row.rps.median)}/s · ×${fixed(best.rps, 2)} best, ×${fixed(row.ratio.median, 2)} per round`;
    parts.push(`<text x="${(Math.max(x(row.rps.max), x(row.rps.median)) + 8).toFixed(1)}" y="${mid + 4}">${escapeXml(text)}</text>`);
  });
  parts.push(
    `<text x="12" y="${height - 14}" fill="#555">×best = best round ÷ ceiling's best round; ×per round = median of (round ÷ ceiling in the same round). Same run, same machine.</text>`,
  );
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/** Where bench/README.md quotes `results/latest.md`; everything between the markers is generated. */
export const LATEST_START = '<!-- bench:latest.md start: written by `npm run bench` from results/latest.md, do not edit -->';
export const LATEST_END = '<!-- bench:latest.md end -->';
/** Where the main README quotes the headline lines of `results/latest.md`. */
export const SUMMARY_START = '<!-- bench:summary start: written by `npm run bench` from bench/results/latest.md, do not edit -->';
export const SUMMARY_END = '<!-- bench:summary end -->';

/**
 * Replaces what lies between `start` and `end` in `doc` with `text`, so docs quote the latest
 * full run instead of hand-copied figures that drift from it.
 *
 * @example
 * ```ts
 * writeFileSync('bench/README.md', quoteBetween(readFileSync('bench/README.md', 'utf8'), LATEST_START, LATEST_END, markdown));
 * ```
 */
export function quoteBetween(doc: string, start: string, end: string, text: string): string {
  const from = doc.indexOf(start);
  const to = doc.indexOf(end);
  if (from === -1 || to < from) throw new Error(`the markers ${start} ... ${end} are missing`);
  return `${doc.slice(0, from + start.length)}\n\n${text.trim()}\n\n${doc.slice(to)}`;
}

/**
 * The headline of a results file for the main README: the run line and the summary line under
 * each table that has one (for instance the hit ratios), as a list.
 *
 * @example
 * ```ts
 * summaryOf(readFileSync('bench/results/latest.md', 'utf8'));
 * ```
 */
export function summaryOf(latest: string): string {
  const lines = latest.split('\n');
  // The comparisons are list items since the raw-GET candidate (plain lines before it).
  const picked = lines.filter((line, i) => i === 0 || (/^(- )?[A-Za-z]/.test(line) && / against /.test(line)));
  return picked.map((line) => `- ${line.replace(/^- /, '').trim()}`).join('\n');
}
