import { runStackContracts } from './stacks';

jest.setTimeout(60_000);

// The store contract (soft invalidation and the write guard included) on every stack createCache
// assembles: memory, Redis, Redis + l1, Redis + fallback (outage, mirror; memory, SQLite), Redis
// Cluster, PostgreSQL, SQLite. The instrumented variants are in stacks-instrumented.test.ts.
runStackContracts(false);
