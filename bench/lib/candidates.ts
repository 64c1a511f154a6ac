/** The apps the benchmark compares; each runs in its own process (see `bench/server.ts`). */
export const CANDIDATES = ['bare', 'buffer', 'redis-get', 'ck-memory', 'ck-redis', 'apicache-memory', 'apicache-redis'] as const;

/** One candidate's name. */
export type Candidate = (typeof CANDIDATES)[number];

/** How each candidate is named in tables and the chart. */
export const LABELS: Record<Candidate, string> = {
  bare: 'bare res.json(body)',
  buffer: 'precomputed Buffer (ceiling)',
  'redis-get': 'one raw ioredis GET',
  'ck-memory': 'cacheResponse + MemoryStore',
  'ck-redis': 'cacheResponse + RedisStore',
  'apicache-memory': 'apicache (memory)',
  'apicache-redis': 'apicache (redis, node_redis 3)',
};

/** Candidates that need the benchmark's redis-server. */
export function usesRedis(candidate: Candidate): boolean {
  return candidate.endsWith('redis') || candidate === 'redis-get';
}
