import type { Redis } from 'ioredis';
import { InvalidOptionError } from '../errors';
import { optionNames, optionalString, plainObject, rejectUnknownOptions } from '../validate';

/**
 * Options of the invalidation bus (`createCache({ l1, bus })`). The bus rides on the Redis the
 * store uses: messages are published with the store's client, and received on a connection of
 * the bus's own (subscribed connections cannot run other commands).
 *
 * @example
 * ```ts
 * const subscriber = new Redis(process.env.REDIS_URL); // used for nothing else
 * createCache({ store: new RedisStore({ url: process.env.REDIS_URL }), namespace: 'myapp', l1: {}, bus: { subscriber } });
 * ```
 */
export interface BusOptions {
  /**
   * A standalone `Redis` connection used only for the subscription; yours to close. On a
   * `Cluster` the bus always opens its own connection to the shard that owns its channel
   * (sharded pub/sub), built from the cluster's node options.
   * @default a duplicate of the store's client (same address, auth and TLS), closed with the cache
   */
  subscriber?: Redis;
  /**
   * The channel name, before the client's `keyPrefix` (which is put in front of it, so apps
   * sharing a Redis under different prefixes never hear each other).
   * @default `{namespace}__bus__` (every instance sharing the namespace shares the channel, and it lies inside the namespace for Redis ACLs)
   */
  channel?: string;
}

/** @internal */
export interface ResolvedBusOptions {
  subscriber: Redis | undefined;
  channel: string | undefined;
}

const BUS_OPTION_NAMES = optionNames<BusOptions>({ subscriber: true, channel: true });

/** @internal */
export function resolveBusOptions(options: BusOptions): ResolvedBusOptions {
  plainObject('bus', options);
  rejectUnknownOptions('bus', options, BUS_OPTION_NAMES, 'bus.');
  const { subscriber } = options;
  if (subscriber !== undefined) {
    const candidate = subscriber as unknown as { subscribe?: unknown; isCluster?: unknown } | null;
    if (candidate === null || typeof candidate !== 'object' || typeof candidate.subscribe !== 'function') {
      throw new InvalidOptionError('bus.subscriber', 'expected an ioredis Redis connection used for nothing else');
    }
    if (candidate.isCluster === true) {
      throw new InvalidOptionError('bus.subscriber', 'on a Cluster the bus opens its own sharded subscriber; pass no subscriber');
    }
  }
  return { subscriber, channel: optionalString('bus.channel', options.channel) };
}
