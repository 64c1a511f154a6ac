import { optionNames, plainObject, positiveInteger, rejectUnknownOptions } from '../validate';

/** Options of {@link MemoryStore}. Both bounds always apply; there is no unbounded mode. */
export interface MemoryStoreOptions {
  /**
   * The most entries held; the least recently used is evicted past it. Must be a positive integer.
   * @default 10000
   */
  maxEntries?: number;
  /**
   * The most bytes held (keys plus stored envelopes); least recently used entries are evicted past
   * it, and a single entry larger than this is not stored. Must be a positive integer.
   * @default 67108864 (64 MiB)
   */
  maxBytes?: number;
}

/** Defaults of {@link MemoryStoreOptions}. */
export const DEFAULT_MEMORY_STORE_OPTIONS = Object.freeze({
  maxEntries: 10_000,
  maxBytes: 64 * 1024 * 1024,
});

// Every option name, once: the compiler keeps this equal to MemoryStoreOptions.
const MEMORY_STORE_OPTION_NAMES = optionNames<MemoryStoreOptions>({ maxEntries: true, maxBytes: true });

/** @internal */
export function resolveMemoryStoreOptions(options: MemoryStoreOptions): Required<MemoryStoreOptions> {
  plainObject('MemoryStore options', options);
  rejectUnknownOptions('MemoryStore', options, MEMORY_STORE_OPTION_NAMES);
  return {
    maxEntries: positiveInteger('maxEntries', options.maxEntries, DEFAULT_MEMORY_STORE_OPTIONS.maxEntries),
    maxBytes: positiveInteger('maxBytes', options.maxBytes, DEFAULT_MEMORY_STORE_OPTIONS.maxBytes),
  };
}

