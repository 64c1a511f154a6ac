import { type ContractTestApi, type StoreCapability } from '../../lib/testing';

/** Jest's globals, as the shipped contract suite takes them. */
export const JEST: ContractTestApi = { describe, it, beforeEach, afterEach };

/** Every capability the built-in stores have. */
export const ALL_CAPABILITIES: StoreCapability[] = ['PatternCapable', 'TagCapable', 'LockCapable', 'RateLimitCapable'];
