import { type BenchResults, type ThroughputRow, against, bestRatios, measured, perRoundRatios, renderHitChart, renderMarkdown, summaryOf } from '../../bench/lib/report';
import { summarize } from '../../bench/lib/stats';

function row(candidate: ThroughputRow['candidate'], rps: number[], cpu: number[]): ThroughputRow {
  return {
    candidate,
    rps: summarize(rps),
    p99Ms: summarize([10, 12]),
    ratio: summarize([0.9, 1.1]),
    cpuUsPerRequest: summarize(cpu),
    cpuRatio: summarize([1, 1]),
    failures: 0,
    originCalls: 0,
    rounds: { rps, cpuUs: cpu },
  };
}

const meta = { date: '2026-01-01T00:00:00.000Z', mode: 'full', cpus: 2, cpuModel: 'test', node: '20', pinning: 'none', rounds: 2, durationSeconds: 2 };

describe('bench summaries', () => {
  it('takes min, median and max, averaging the middle pair of an even count', () => {
    expect(summarize([3, 1, 2])).toEqual({ min: 1, median: 2, max: 3, n: 3 });
    expect(summarize([4, 1, 3, 2])).toEqual({ min: 1, median: 2.5, max: 4, n: 4 });
    expect(summarize([]).n).toBe(0);
    expect(summarize([]).median).toBeNaN();
  });

  it('compares best rounds: most req/s, least CPU per request', () => {
    const reference = row('buffer', [100, 200], [10, 20]);
    const candidate = row('ck-memory', [150, 180], [12, 25]);
    const best = bestRatios(candidate, reference);
    expect(best.rps).toBeCloseTo(0.9);
    expect(best.cpu).toBeCloseTo(10 / 12);
  });

  it('compares raw rounds (the side-by-side run) as it compares rows', () => {
    const a = { rps: [90, 300], cpuUs: [12, 25] };
    const b = { rps: [100, 200], cpuUs: [10, 20] };
    expect(against(measured(a), measured(b))).toBe('×1.50 req/s and ×0.83 by CPU (best rounds), ×1.20 per round (0.90–1.50)');
    expect(against(measured(a), measured(b))).toBe(against(row('ck-memory', a.rps, a.cpuUs), row('buffer', b.rps, b.cpuUs)));
  });

  it('compares two candidates round by round, in the order the rounds ran', () => {
    const round = perRoundRatios(row('ck-redis', [90, 300], [1, 1]), row('redis-get', [100, 200], [1, 1]));
    expect(round.min).toBeCloseTo(0.9);
    expect(round.max).toBeCloseTo(1.5);
  });
});

describe('bench report', () => {
  const results: BenchResults = {
    meta,
    hit: { reference: 'buffer', rows: [row('buffer', [100, 200], [10, 20]), row('ck-memory', [150, 180], [12, 25]), row('apicache-memory', [90, 95], [15, 16]), row('ck-redis', [80, 90], [20, 22]), row('redis-get', [100, 100], [18, 18])] },
    invalidation: {
      count: 10,
      patternMs: summarize([5]),
      probeP99Ms: summarize([1]),
      probeMaxMs: summarize([2]),
      tags: { skipped: 'no <tags> here' },
    },
  };

  it('prints only the sections that ran, with the reference marked and the skip reason', () => {
    const markdown = renderMarkdown(results);
    expect(markdown).toContain('### Hit throughput');
    expect(markdown).not.toContain('### Miss overhead');
    expect(markdown).toMatch(/\| precomputed Buffer \(ceiling\) \|[^\n]*1 \(reference\)/);
    expect(markdown).toContain('cacheResponse + MemoryStore against the ceiling: ×0.90 req/s');
    expect(markdown).toContain('cacheResponse + MemoryStore against apicache (memory): ×1.89 req/s');
    expect(markdown).toContain('cacheResponse + RedisStore against one raw ioredis GET: ×0.90 req/s and ×0.90 by CPU (best rounds), ×0.85 per round (0.80–0.90)');
    expect(markdown).toContain('tags: skipped (no <tags> here)');
  });

  it('quotes the first line and every comparison in the README summary, each once', () => {
    const summary = summaryOf(renderMarkdown(results)).split('\n');
    expect(summary).toHaveLength(4);
    expect(summary.slice(1).map((line) => line.split(':')[0])).toEqual([
      '- cacheResponse + MemoryStore against the ceiling',
      '- cacheResponse + MemoryStore against apicache (memory)',
      '- cacheResponse + RedisStore against one raw ioredis GET',
    ]);
  });

  it('draws one bar per hit candidate as well-formed SVG with escaped text', () => {
    const svg = renderHitChart({ ...results, meta: { ...meta, mode: 'full <&>' } }) as string;
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg.match(/<rect x="250"/g)).toHaveLength(5);
    expect(svg).toContain('full &lt;&amp;&gt;');
    expect(svg).not.toContain('<&>');
    expect(renderHitChart({ meta })).toBeUndefined();
  });
});
