import { type ContractTestApi, type StoreCapability } from '../../lib/testing';

/** Jest's globals, as the shipped contract suite takes them. */
export const JEST: ContractTestApi = { describe, it, beforeEach, afterEach };

/** Every capability MemoryStore and RedisStore (standalone or Cluster) have. */
export const ALL_CAPABILITIES: StoreCapability[] = ['PatternCapable', 'TagCapable', 'LockCapable', 'RateLimitCapable', 'GuardCapable', 'SoftCapable'];

/** Every capability the SQL stores (PostgreSQL, SQLite) have. */
export const SQL_CAPABILITIES: StoreCapability[] = ['PatternCapable', 'TagCapable', 'LockCapable', 'RateLimitCapable', 'PruneCapable', 'StalenessCapable'];
