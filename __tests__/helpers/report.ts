/**
 * Prints a measurement a test took (counts, durations) only when `CACHE_KIT_TEST_REPORT=1`, so
 * `npm test` stays quiet: a passing suite prints only Jest's own lines.
 */
export function report(...values: unknown[]): void {
  if (process.env.CACHE_KIT_TEST_REPORT) console.log(...values);
}
