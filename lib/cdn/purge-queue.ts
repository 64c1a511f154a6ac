import { PurgeError } from '../errors';
import { type PurgeRequest, type ResolvedPurgeOptions, describePurge } from './purge';

/** The longest wait between two attempts of one purge, in ms. */
const MAX_RETRY_DELAY_MS = 30_000;

/** The longest `close()` waits for the last attempts, in ms: a shutdown is never held by a slow CDN. */
const CLOSE_WAIT_MS = 2_000;

interface Queued {
  request: PurgeRequest;
  /** Attempts made so far. */
  attempts: number;
  /** Not tried again before this time (epoch ms). */
  dueAt: number;
}

/**
 * The bounded in-memory queue between the invalidator and the `purge` hook. Invalidations go
 * in after they were applied (or journaled) here and never wait for it; the queue sends them one
 * at a time, in order, retrying a failed one with a doubling delay up to `attempts`, each
 * failure reported as an `error` (a `PurgeError`).
 *
 * It is not the store's invalidation journal (`InvalidationJournal`): that one holds what this
 * cache's own store could not take and must apply before the store serves a read again, and it
 * is replayed when the store comes back. This queue holds what the CDN has not confirmed; the
 * app keeps answering from its own cache meanwhile, and the worst a lost purge does is let a CDN
 * copy live to its own TTL. Both are bounded the same way: past the limit they collapse into one
 * "everything" record (a purge-all at most, never an unbounded backlog).
 * @internal
 */
export class PurgeQueue {
  private queue: Queued[] = [];
  private running: Promise<void> | undefined;
  private wake: { timer: NodeJS.Timeout; resolve: () => void } | undefined;
  private closing = false;

  constructor(
    private readonly options: ResolvedPurgeOptions,
    private readonly report: (error: PurgeError, request: PurgeRequest) => void,
  ) {}

  /** Queues one invalidation for the hook; returns at once. */
  push(request: PurgeRequest): void {
    if (this.queue.length >= this.options.maxQueued) {
      // One "everything" covers every purge still waiting, whatever came after it: reported
      // once, while it waits.
      const reported = this.queue.some((queued) => queued.request.overflowed === true);
      const overflow: PurgeRequest = { kind: 'clear', soft: false, surrogateKeys: [], overflowed: true };
      this.queue = [{ request: overflow, attempts: 0, dueAt: 0 }];
      if (!reported) this.report(new PurgeError(describePurge(overflow), 0, true, { cause: new Error(`more than ${this.options.maxQueued} purges waiting`) }), overflow);
      return;
    }
    this.queue.push({ request, attempts: 0, dueAt: 0 });
    this.running ??= this.drain().finally(() => {
      this.running = undefined;
    });
  }

  /** How many purges wait (the one being sent included). */
  get size(): number {
    return this.queue.length;
  }

  /** Resolves once every queued purge was sent or given up (retries included). */
  async settled(): Promise<void> {
    while (this.running !== undefined) await this.running;
  }

  /**
   * Gives every purge still waiting one last attempt now (no further retries), then resolves:
   * called by `Cache.close()`, so a shutting-down process does not leave its purges unsent. It
   * waits {@link CLOSE_WAIT_MS} at most; attempts still running then finish on their own.
   */
  async close(): Promise<void> {
    this.closing = true;
    this.wakeUp();
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, CLOSE_WAIT_MS).unref();
    });
    await Promise.race([this.settled(), bound]);
    clearTimeout(timer);
  }

  private wakeUp(): void {
    const wake = this.wake;
    if (wake === undefined) return;
    this.wake = undefined;
    clearTimeout(wake.timer);
    wake.resolve();
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const now = Date.now();
      let next = 0;
      for (let i = 1; i < this.queue.length; i++) if ((this.queue[i] as Queued).dueAt < (this.queue[next] as Queued).dueAt) next = i;
      const item = this.queue[next] as Queued;
      if (item.dueAt > now && !this.closing) {
        await new Promise<void>((resolve) => {
          // Unref'd: a retry waiting must not keep the process alive.
          this.wake = { timer: setTimeout(() => this.wakeUp(), item.dueAt - now).unref(), resolve };
        });
        continue;
      }
      this.queue.splice(next, 1);
      item.attempts++;
      try {
        await this.options.hook(item.request);
      } catch (error) {
        const retry = item.attempts < this.options.attempts && !this.closing;
        this.report(new PurgeError(describePurge(item.request), item.attempts, retry, { cause: error }), item.request);
        if (retry) {
          item.dueAt = Date.now() + Math.min(MAX_RETRY_DELAY_MS, this.options.retryDelayMs * 2 ** (item.attempts - 1));
          this.queue.push(item);
        }
      }
    }
  }
}
