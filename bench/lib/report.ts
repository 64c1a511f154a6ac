import { type Candidate, LABELS } from './candidates';
import type { Summary } from './stats';

/** One candidate in a throughput scenario (hit or miss). */
export interface ThroughputRow {
  candidate: Candidate;
  rps: Summary;
  p99Ms: Summary;
  /** Per-round ratio of this candidate's req/s to the reference candidate's in the same round. */
  ratio: Summary;
  /** Non-2xx answers, socket errors and timeouts, over all rounds. */
  failures: number;
  /** How often the origin handler ran during the measured rounds (a hit scenario wants 0). */
  originCalls: number;
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
}

const int = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
const fixed = (n: number, digits: number): string => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
const spread = (s: Summary, format: (n: number) => string): string => `${format(s.median)} (${format(s.min)}–${format(s.max)})`;
const mib = (bytes: number | undefined): string => (bytes === undefined ? 'n/a' : `${(bytes / 1024 / 1024).toFixed(1)} MiB`);

function throughputTable(rows: ThroughputRow[], reference: Candidate, ratioHeader: string): string[] {
  const lines = [
    `| candidate | req/s median (min–max) | p99 ms median (min–max) | ${ratioHeader} median (min–max) | origin calls | failures |`,
    '| --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const row of rows) {
    const ratio = row.candidate === reference ? '1.00 (reference)' : spread(row.ratio, (n) => fixed(n, 2));
    lines.push(`| ${LABELS[row.candidate]} | ${spread(row.rps, int)} | ${spread(row.p99Ms, (n) => fixed(n, 1))} | ${ratio} | ${int(row.originCalls)} | ${row.failures} |`);
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
  if (hit) {
    out.push('', '### Hit throughput (~1 KB JSON, every request the same URL)', '');
    out.push(...throughputTable(hit.rows, hit.reference, '× ceiling'));
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
  return out.join('\n');
}

const escapeXml = (text: string): string => text.replace(/[<>&"]/g, (ch) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[ch] as string);

/**
 * A horizontal bar chart of median hit req/s per candidate, with the min–max spread drawn as a
 * whisker and the ratio to the ceiling written at the end of each bar. Plain SVG, no library.
 */
export function renderHitChart(results: BenchResults): string | undefined {
  const hit = results.hit;
  if (!hit) return undefined;
  const rows = hit.rows;
  const labelWidth = 240;
  const plotWidth = 420;
  const barHeight = 26;
  const gap = 12;
  const top = 48;
  const width = labelWidth + plotWidth + 110;
  const height = top + rows.length * (barHeight + gap) + 36;
  const maxRps = Math.max(1, ...rows.map((row) => (Number.isFinite(row.rps.max) ? row.rps.max : 0)));
  const x = (rps: number): number => labelWidth + (plotWidth * rps) / maxRps;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="13">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="bold">Cache-hit throughput, ~1 KB JSON (median req/s; whisker = min–max of ${String(results.meta.rounds)} rounds)</text>`,
    `<text x="12" y="38" fill="#555">${escapeXml(`${String(results.meta.date)} · ${String(results.meta.cpus)} cores · pinning: ${String(results.meta.pinning)} · ${String(results.meta.mode)}`)}</text>`,
  ];
  rows.forEach((row, i) => {
    const y = top + i * (barHeight + gap);
    const fill = row.candidate.startsWith('ck-') ? '#2b6cb0' : row.candidate === 'buffer' ? '#718096' : row.candidate.startsWith('apicache') ? '#dd6b20' : '#a0aec0';
    const median = Number.isFinite(row.rps.median) ? row.rps.median : 0;
    parts.push(`<text x="${labelWidth - 8}" y="${y + barHeight / 2 + 4}" text-anchor="end">${escapeXml(LABELS[row.candidate])}</text>`);
    parts.push(`<rect x="${labelWidth}" y="${y}" width="${Math.max(1, x(median) - labelWidth).toFixed(1)}" height="${barHeight}" fill="${fill}"/>`);
    if (Number.isFinite(row.rps.min) && Number.isFinite(row.rps.max)) {
      const mid = y + barHeight / 2;
      parts.push(`<line x1="${x(row.rps.min).toFixed(1)}" y1="${mid}" x2="${x(row.rps.max).toFixed(1)}" y2="${mid}" stroke="#1a202c" stroke-width="1.5"/>`);
      for (const end of [row.rps.min, row.rps.max]) {
        parts.push(`<line x1="${x(end).toFixed(1)}" y1="${mid - 6}" x2="${x(end).toFixed(1)}" y2="${mid + 6}" stroke="#1a202c" stroke-width="1.5"/>`);
      }
    }
    const ratio = row.candidate === hit.reference ? '1.00×' : `${fixed(row.ratio.median, 2)}×`;
    parts.push(`<text x="${(x(Math.max(median, Number.isFinite(row.rps.max) ? row.rps.max : 0)) + 8).toFixed(1)}" y="${y + barHeight / 2 + 4}">${escapeXml(`${int(median)} · ${ratio}`)}</text>`);
  });
  parts.push(`<text x="${labelWidth}" y="${height - 12}" fill="#555">ratio = median over rounds of (candidate req/s ÷ precomputed-Buffer req/s in the same round)</text>`);
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
