import { InvalidOptionError } from '../errors';
import type { Ttl } from '../ttl';

/** What {@link Cache.warm} (and `warmRoutes`) resolve: how many tasks succeeded, and the others' errors. */
export interface WarmResult<T> {
  ok: number;
  failed: Array<{ task: T; error: Error }>;
}

/**
 * Runs `run` over `tasks`, `concurrency` at once; never rejects.
 * @internal
 */
export async function runTasks<T>(tasks: readonly T[], concurrency: number | undefined, run: (task: T) => Promise<void>): Promise<WarmResult<T>> {
  const limit = concurrency ?? 4;
  if (!Number.isInteger(limit) || limit <= 0) throw new InvalidOptionError('concurrency', 'expected a positive integer');
  const failed: Array<{ task: T; error: Error }> = [];
  let ok = 0;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const task = tasks[next++] as T;
      try {
        await run(task);
        ok++;
      } catch (error) {
        failed.push({ task, error: error instanceof Error ? error : new Error(String(error)) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return { ok, failed };
}


/** A task for `Cache.warm`: a query to load and store. (Routes: see `warmRoutes`.) */
export interface WarmTask {
  key: string;
  loader: () => unknown;
  ttl?: Ttl;
  tags?: readonly string[];
}

