// The slices of two untyped dev dependencies the benchmark uses, so it needs no extra @types.

declare module 'apicache' {
  import type { RequestHandler } from 'express';

  interface ApicacheOptions {
    /** A node_redis v2/v3 client (callback API, `.connected`); without it apicache keeps entries in memory. */
    redisClient?: unknown;
    defaultDuration?: string | number;
  }

  interface ApicacheInstance {
    middleware(duration?: string | number): RequestHandler;
    options(options?: ApicacheOptions): ApicacheInstance;
  }

  const apicache: ApicacheInstance & { newInstance(options?: ApicacheOptions): ApicacheInstance };
  export default apicache;
}

declare module 'redis' {
  interface RedisClientV3 {
    readonly connected: boolean;
    on(event: 'ready' | 'error' | 'end', listener: (...args: unknown[]) => void): this;
    once(event: 'ready' | 'error' | 'end', listener: (...args: unknown[]) => void): this;
    quit(callback?: () => void): boolean;
    end(flush: boolean): void;
  }

  export function createClient(options: { url: string }): RedisClientV3;
}

declare module 'autocannon' {
  interface AutocannonRequest {
    method?: string;
    path?: string;
    setupRequest?: (request: AutocannonRequest, context: Record<string, unknown>) => AutocannonRequest;
  }

  interface AutocannonOptions {
    url: string;
    connections?: number;
    duration?: number;
    pipelining?: number;
    timeout?: number;
    requests?: AutocannonRequest[];
  }

  interface AutocannonResult {
    duration: number;
    requests: { total: number; average: number };
    latency: { p50: number; p99: number; max: number };
    non2xx: number;
    errors: number;
    timeouts: number;
  }

  function autocannon(options: AutocannonOptions): Promise<AutocannonResult>;
  export default autocannon;
}
