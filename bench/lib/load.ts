import type { ProcessGroup } from './processes';

/** What one load run measured. */
export interface LoadResult {
  /** Completed requests per second over the whole run. */
  rps: number;
  /** 99th percentile latency in milliseconds. */
  p99: number;
  /** Requests answered. */
  total: number;
  /** Answers that were not 2xx, plus connection errors and timeouts. */
  failures: number;
}

/** Options of {@link autocannon}. */
export interface AutocannonOptions {
  connections: number;
  durationSeconds: number;
  /** Give every request its own query parameter (every request a new cache key). */
  unique?: boolean;
}

/** Runs autocannon in its own process (on the load generator's CPU) against `url`. */
export async function autocannon(group: ProcessGroup, url: string, options: AutocannonOptions): Promise<LoadResult> {
  const args = [url, String(options.connections), String(options.durationSeconds), ...(options.unique ? ['unique'] : [])];
  const stdout = await group.run('bench/load-client.ts', args, { role: 'load', timeoutMs: options.durationSeconds * 1_000 + 30_000 });
  return JSON.parse(stdout) as LoadResult;
}

/** What one burst of concurrent cold requests measured (see `bench/stampede-client.ts`). */
export interface BurstResult {
  requests: number;
  ok: number;
  failures: number;
  p50: number;
  p99: number;
  max: number;
}

/** Fires `count` requests at `url` at once from a separate process and waits for all of them. */
export async function burst(group: ProcessGroup, url: string, count: number): Promise<BurstResult> {
  const stdout = await group.run('bench/stampede-client.ts', [url, String(count)], { role: 'load', timeoutMs: 60_000 });
  return JSON.parse(stdout) as BurstResult;
}

/** GETs a JSON document from a bench server (its `/stats`). */
export async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  if (!response.ok) throw new Error(`GET ${url} answered ${response.status}`);
  return (await response.json()) as T;
}

/** GETs `url` once and returns the status and the `X-Cache` header (to check a route really hits). */
export async function probe(url: string): Promise<{ status: number; xCache: string | null }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  await response.arrayBuffer();
  return { status: response.status, xCache: response.headers.get('x-cache') };
}
