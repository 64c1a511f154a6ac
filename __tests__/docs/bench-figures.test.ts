// One source of truth for benchmark figures: the bench writes bench/results/latest.md and
// splices it into bench/README.md (and its headline into README.md); the prose around them
// quotes no measured figures of its own, so docs cannot contradict the tables again.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LATEST_END, LATEST_START, SUMMARY_END, SUMMARY_START, quoteBetween, summaryOf } from '../../bench/lib/report';
import { DEFAULT_REDIS_STORE_OPTIONS } from '../../lib';
import { ROOT } from './snippets';

const read = (file: string): string => readFileSync(join(ROOT, file), 'utf8');
const latest = read('bench/results/latest.md');
const benchReadme = read('bench/README.md');
const readme = read('README.md');

function section(doc: string, heading: string): string {
  const start = doc.indexOf(`\n${heading}\n`);
  if (start === -1) throw new Error(`no section "${heading}"`);
  const next = doc.slice(start + heading.length + 2).search(/\n## /);
  return next === -1 ? doc.slice(start) : doc.slice(start, start + heading.length + 2 + next);
}

function withoutQuotes(doc: string, start: string, end: string): string {
  return doc.slice(0, doc.indexOf(start)) + doc.slice(doc.indexOf(end) + end.length);
}

// A ratio (×0.93, 1.6×) or a measured amount (91.7 µs, 164 MiB, 9,500 req/s).
const FIGURE = /×\s?\d|\d(?:\.\d+)?×|\d[\d,.]*\s?(?:µs|MiB|GiB|req\/s)/;

test('bench/README.md quotes results/latest.md exactly', () => {
  expect(quoteBetween(benchReadme, LATEST_START, LATEST_END, latest)).toBe(benchReadme);
});

test("README.md's benchmark headline is the summary of results/latest.md", () => {
  expect(quoteBetween(readme, SUMMARY_START, SUMMARY_END, summaryOf(latest))).toBe(readme);
  expect(summaryOf(latest)).toMatch(/against the ceiling: ×\d/);
});

test.each([
  ['bench/README.md "Reading the results"', section(benchReadme, '## Reading the results')],
  ['README.md "Benchmarks" outside the quote', withoutQuotes(section(readme, '## Benchmarks'), SUMMARY_START, SUMMARY_END)],
])('%s quotes no measured figures of its own', (_where, prose) => {
  const offending = prose.split('\n').filter((line) => FIGURE.test(line));
  expect(offending).toEqual([]);
});

test('the docs give the default Redis timeout the code has', () => {
  const ms = DEFAULT_REDIS_STORE_OPTIONS.operationTimeoutMs;
  for (const doc of [benchReadme, readme]) {
    expect(doc).not.toMatch(/default[^.\n]{0,60}\b50 ms|50 ms (?:default|operation timeout)/);
    expect(doc).toContain(`${ms} ms`);
  }
});
