import type { RateLimits } from './store';

/**
 * In-process locks with expiry, for stores that live in one process. Expired locks are pruned
 * as they are met, so the map holds at most the keys being filled right now.
 * @internal
 */
export class LocalLocks {
  private readonly held = new Map<string, { token: string; until: number }>();

  acquire(key: string, ttlMs: number, token: string): string | undefined {
    const now = Date.now();
    const current = this.held.get(key);
    if (current && current.until > now) return undefined;
    this.held.set(key, { token, until: now + ttlMs });
    return token;
  }

  release(key: string, token: string): void {
    if (this.held.get(key)?.token === token) this.held.delete(key);
  }
}

/**
 * The in-process twin of the Redis limiter script: a minimum spacing and a fixed-window count.
 * @internal
 */
export class LocalRateLimiter {
  private readonly state = new Map<string, { last: number; windowStart: number; count: number }>();

  consume(key: string, limits: RateLimits, now: number): number {
    const entry = this.state.get(key) ?? { last: Number.NEGATIVE_INFINITY, windowStart: now, count: 0 };
    if (limits.minIntervalMs > 0 && now - entry.last < limits.minIntervalMs) return limits.minIntervalMs - (now - entry.last);
    if (limits.maxPerWindow > 0) {
      if (now - entry.windowStart >= limits.windowMs) {
        entry.windowStart = now;
        entry.count = 0;
      }
      if (entry.count >= limits.maxPerWindow) return Math.max(1, entry.windowStart + limits.windowMs - now);
      entry.count++;
    }
    entry.last = now;
    this.state.set(key, entry);
    return 0;
  }
}
