import type { Cache, CacheEvents } from '../../lib';

/** A promise the test opens when it wants the handler to go on. */
export interface Gate {
  promise: Promise<void>;
  open: () => void;
}

export function gate(): Gate {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** Polls `check` (every 5 ms, up to 10 s). */
export async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Records a cache's `refresh` events. */
export function refreshes(cache: Cache): Array<CacheEvents['refresh']> {
  const seen: Array<CacheEvents['refresh']> = [];
  cache.on('refresh', (event) => seen.push(event));
  return seen;
}

/** Counts a cache's writes; `wait(n)` resolves once `n` entries were stored (answers are stored after they are sent). */
export function writes(cache: Cache): { wait: (count: number) => Promise<void> } {
  let count = 0;
  cache.on('set', () => count++);
  return { wait: (wanted) => until(() => count >= wanted, `${wanted} stored entries`) };
}
