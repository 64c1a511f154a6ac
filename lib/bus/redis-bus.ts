import { randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { type InvalidationMessage, decodeMessage, encodeMessage } from './message';
import { StoreTimeoutError } from '../errors';

type Client = Redis | Cluster;

/**
 * Where the bus stands: `connecting` until its first subscription is confirmed, `up` while
 * subscribed, `down` after the subscribed connection dropped (messages may be missed until it
 * is `up` again), `closed` after {@link RedisBus.close}.
 *
 * @example
 * ```ts
 * const state: BusState = (cache.store as TieredStore).bus?.state ?? 'closed';
 * ```
 */
export type BusState = 'connecting' | 'up' | 'down' | 'closed';

/**
 * What a {@link RedisBus} reports.
 *
 * @example
 * ```ts
 * bus.on('down', () => log.warn('cache bus disconnected: L1 bypassed until it is back'));
 * ```
 */
export interface BusEvents {
  /** A message from another instance arrived. */
  message: InvalidationMessage;
  /** The subscription is (again) confirmed: from now on no message is missed. */
  up: undefined;
  /** The subscribed connection dropped: messages published from now until `up` are missed. */
  down: undefined;
  /** Publishing or subscribing failed (the bus retries by itself). */
  error: { error: Error; operation: 'publish' | 'subscribe' };
}

type Listener<E extends keyof BusEvents> = (payload: BusEvents[E]) => void;

/** How long to wait before looking up a cluster channel's shard again after a failure, in ms. */
const RESOLVE_RETRY_MS = 500;
/** How often the bus checks that its connection is still subscribed, in ms. */
const WATCH_MS = 1_000;
/**
 * How often the bus pings its subscribed connection, and how long a ping may take before the bus
 * counts as down, in ms. A frozen or partitioned Redis keeps the TCP connection open, so without
 * a heartbeat the bus would stay `up` (and L1 copies trusted) while no message can arrive.
 */
const HEARTBEAT_MS = 250;
/** How long a publish may take when the bus is built without the store's operation timeout, in ms. */
const DEFAULT_PUBLISH_TIMEOUT_MS = 1_000;
const HEARTBEAT_TIMEOUT_MS = 500;

function isCluster(client: Client): client is Cluster {
  return (client as Cluster).isCluster === true;
}

function prefixOf(client: Client): string {
  const prefix = isCluster(client) ? (client.options.keyPrefix ?? client.options.redisOptions?.keyPrefix) : client.options.keyPrefix;
  return prefix ?? '';
}

/**
 * A cross-instance invalidation bus on Redis pub/sub. Messages name keys, patterns and tags,
 * never values (see {@link InvalidationMessage}), and carry this instance's id so it ignores
 * its own.
 *
 * - Standalone Redis: `PUBLISH` on the store's client, `SUBSCRIBE` on a connection of the bus's
 *   own (a duplicate of the store's client unless one is given).
 * - Cluster: sharded pub/sub. `SPUBLISH` on the cluster client (routed by the channel's slot),
 *   `SSUBSCRIBE` on a connection the bus opens to the master that owns that slot; a message is
 *   then handled by one shard only, instead of being broadcast to every node.
 *
 * The subscription is confirmed before the bus reports `up`, and renewed by the bus itself on
 * every reconnect (ioredis' own resubscription is turned off so that `up` means subscribed).
 * Built by {@link createCache} when `l1` is set on a `RedisStore`.
 *
 * @example
 * ```ts
 * const bus = new RedisBus(store.client, '__bus__:myapp:');
 * bus.on('message', (message) => console.log(message.kind, message.keys));
 * await bus.ready();
 * await bus.publish({ kind: 'invalidate', tags: ['myapp:character:1'] });
 * ```
 */
export class RedisBus {
  /** This instance's id, carried by every message it publishes. */
  readonly instanceId = randomUUID();
  /** The channel as Redis sees it (the client's keyPrefix included). */
  readonly channel: string;
  private current: BusState = 'connecting';
  private subscriber: Redis | undefined;
  private readonly ownsSubscriber: boolean;
  private readonly listeners: { [E in keyof BusEvents]: Set<Listener<E>> } = {
    message: new Set(),
    up: new Set(),
    down: new Set(),
    error: new Set(),
  };
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly watchTimer: NodeJS.Timeout;
  private readonly heartbeatTimer: NodeJS.Timeout;
  // Set while a heartbeat ping is unanswered: when it was sent.
  private pingSentAt: number | undefined;
  // Set when the heartbeat (not the connection) put the bus down: an answer puts it back up.
  private silent = false;

  /**
   * @param publisher the store's client: messages are published with it.
   * @param channel the channel name before the client's keyPrefix.
   * @param subscriber a standalone connection for the subscription, yours to close (not on a Cluster).
   * @param publishTimeoutMs how long a publish may take before it counts as failed (`createCache`
   *   passes the store's operation timeout): an invalidation awaits its publish, and must not
   *   hang on a frozen server.
   */
  constructor(
    private readonly publisher: Client,
    private readonly baseChannel: string,
    subscriber?: Redis,
    private readonly publishTimeoutMs: number = DEFAULT_PUBLISH_TIMEOUT_MS,
  ) {
    this.channel = prefixOf(publisher) + baseChannel;
    this.ownsSubscriber = subscriber === undefined;
    // A server can end a subscription without closing the connection: when a cluster slot moves,
    // Redis sends SUNSUBSCRIBE to the shard's subscribers. ioredis then leaves subscriber mode
    // (and reports a queue-state error); without this check the bus would be deaf but "up".
    this.watchTimer = setInterval(() => this.checkSubscribed(), WATCH_MS);
    this.watchTimer.unref();
    this.heartbeatTimer = setInterval(() => this.heartbeat(), HEARTBEAT_MS);
    this.heartbeatTimer.unref();
    if (subscriber !== undefined) this.attach(subscriber);
    else if (!isCluster(publisher)) this.attach(publisher.duplicate(subscriberOptions()));
    else this.attachToShard(publisher);
  }

  /** The bus's state; see {@link BusState}. */
  get state(): BusState {
    return this.current;
  }

  /** Subscribes to a bus event; returns a function that unsubscribes. */
  on<E extends keyof BusEvents>(event: E, listener: Listener<E>): () => void {
    (this.listeners[event] as Set<Listener<E>>).add(listener);
    return () => void (this.listeners[event] as Set<Listener<E>>).delete(listener);
  }

  /** Resolves once the subscription is confirmed, or rejects after `timeoutMs`. */
  async ready(timeoutMs = 5_000): Promise<void> {
    if (this.current === 'up') return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`the cache bus did not subscribe within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.on('up', () => {
        clearTimeout(timer);
        off();
        resolve();
      });
    });
  }

  /**
   * Publishes `message` to the other instances; resolves `false` (and reports `error`) when it
   * could not be sent. Never rejects: a cache write must not fail because the bus did.
   */
  async publish(message: InvalidationMessage): Promise<boolean> {
    if (this.current === 'closed') return false;
    const text = encodeMessage(this.instanceId, message);
    // SPUBLISH's channel counts as a key, so ioredis puts the keyPrefix in front of it itself.
    const sent = isCluster(this.publisher) ? this.publisher.spublish(this.baseChannel, text) : this.publisher.publish(this.channel, text);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        sent,
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new StoreTimeoutError('publish', this.publishTimeoutMs)), this.publishTimeoutMs);
        }),
      ]);
      return true;
    } catch (error) {
      // A publish that lands late is harmless: the caller counts it as lost and owes a `clear`.
      sent.catch(() => undefined);
      this.emit('error', { error: toError(error), operation: 'publish' });
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops listening; closes the subscriber connection when the bus opened it. Idempotent. */
  async close(): Promise<void> {
    if (this.current === 'closed') return;
    this.current = 'closed';
    clearTimeout(this.retryTimer);
    clearInterval(this.watchTimer);
    clearInterval(this.heartbeatTimer);
    const subscriber = this.detach();
    if (subscriber === undefined) return;
    if (!this.ownsSubscriber) {
      await subscriber.unsubscribe(this.channel).catch(() => undefined);
      return;
    }
    subscriber.disconnect();
  }

  // -------------------------------------------------------------------------------------------

  private emit<E extends keyof BusEvents>(event: E, payload: BusEvents[E]): void {
    for (const listener of this.listeners[event] as Set<Listener<E>>) {
      try {
        listener(payload);
      } catch {
        // A listener's bug must not stop the others from hearing the message.
      }
    }
  }

  /** Stops listening to the current subscriber connection; returns it. */
  private detach(): Redis | undefined {
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    if (subscriber === undefined) return undefined;
    subscriber.removeListener('ready', this.onReady);
    subscriber.removeListener('close', this.onClose);
    subscriber.removeListener('error', this.onError);
    subscriber.removeListener('message', this.onMessage);
    subscriber.removeListener('smessage', this.onMessage);
    // An abandoned connection of ours may still report errors while it goes away; unheard, an
    // 'error' event would throw.
    if (this.ownsSubscriber) subscriber.on('error', () => undefined);
    return subscriber;
  }

  private attach(subscriber: Redis): void {
    this.subscriber = subscriber;
    // Failures are seen through `close`, failed subscriptions and the watch; unheard, ioredis
    // would print each error.
    subscriber.on('error', this.onError);
    subscriber.on('ready', this.onReady);
    subscriber.on('close', this.onClose);
    subscriber.on(isCluster(this.publisher) ? 'smessage' : 'message', this.onMessage);
    if (subscriber.status === 'ready') this.onReady();
  }

  /** Opens a connection to the master owning the channel's slot (sharded pub/sub). */
  private attachToShard(cluster: Cluster): void {
    const retry = (error: unknown): void => {
      this.emit('error', { error: toError(error), operation: 'subscribe' });
      if (this.current === 'closed') return;
      this.retryTimer = setTimeout(() => this.attachToShard(cluster), RESOLVE_RETRY_MS);
      this.retryTimer.unref();
    };
    shardOwner(cluster, this.channel).then((owner) => {
      if (this.current === 'closed') return;
      const template = cluster.nodes('master')[0];
      if (template === undefined) throw new Error('the cluster has no master to subscribe on');
      // A node connection carries the cluster's redisOptions (auth, TLS); the channel is given
      // raw (keyPrefix included), so the connection itself must add none.
      this.attach(template.duplicate({ ...subscriberOptions(), host: owner.host, port: owner.port, keyPrefix: '' }));
    }, retry);
  }

  private readonly onReady = (): void => {
    const subscriber = this.subscriber;
    if (subscriber === undefined) return;
    const subscribed = isCluster(this.publisher) ? subscriber.ssubscribe(this.channel) : subscriber.subscribe(this.channel);
    subscribed.then(
      () => {
        if (this.current === 'closed' || this.subscriber !== subscriber) return;
        this.current = 'up';
        this.emit('up', undefined);
      },
      (error: unknown) => {
        this.emit('error', { error: toError(error), operation: 'subscribe' });
        // A MOVED reply: the slot changed owner. Start over on the new one.
        if (isCluster(this.publisher) && this.ownsSubscriber && this.current !== 'closed' && this.subscriber === subscriber) {
          this.markDown();
          this.detach()?.disconnect();
          this.attachToShard(this.publisher);
        }
      },
    );
  };

  private readonly onClose = (): void => {
    this.markDown();
    this.silent = false;
    this.pingSentAt = undefined;
  };

  private readonly onError = (): void => this.checkSubscribed();

  /** Subscribes again when the connection is ready but no longer subscribed (see the watch). */
  private checkSubscribed(): void {
    const subscriber = this.subscriber;
    if (this.current !== 'up' || subscriber === undefined || subscriber.status !== 'ready' || subscriber.mode === 'subscriber') return;
    this.markDown();
    if (isCluster(this.publisher) && this.ownsSubscriber) {
      // The slot may have a new owner: look it up again and connect there.
      this.detach()?.disconnect();
      this.attachToShard(this.publisher);
      return;
    }
    this.onReady();
  }

  /**
   * Pings the subscribed connection. An answer that takes longer than HEARTBEAT_TIMEOUT_MS puts
   * the bus down (messages may be stuck); the next answer after that puts it up again, since
   * the subscription on that connection never ended.
   */
  private heartbeat(): void {
    const subscriber = this.subscriber;
    if (subscriber === undefined || subscriber.status !== 'ready' || (this.current !== 'up' && !this.silent)) return;
    if (this.pingSentAt !== undefined) {
      if (this.current === 'up' && Date.now() - this.pingSentAt > HEARTBEAT_TIMEOUT_MS) {
        this.markDown();
        this.silent = true;
      }
      return;
    }
    this.pingSentAt = Date.now();
    subscriber.ping().then(
      () => {
        this.pingSentAt = undefined;
        if (!this.silent || this.subscriber !== subscriber || this.current !== 'down') return;
        this.silent = false;
        this.current = 'up';
        this.emit('up', undefined);
      },
      () => {
        this.pingSentAt = undefined;
      },
    );
  }

  private markDown(): void {
    if (this.current !== 'up') return;
    this.current = 'down';
    this.emit('down', undefined);
  }

  private readonly onMessage = (channel: string, text: string): void => {
    if (channel !== this.channel || this.current !== 'up') return;
    const decoded = decodeMessage(text);
    if (decoded === undefined || decoded.from === this.instanceId) return;
    this.emit('message', decoded.message);
  };
}

/** Settings for a subscribed connection: it must queue its SUBSCRIBE until connected, never time it out. */
function subscriberOptions(): Record<string, unknown> {
  return {
    enableOfflineQueue: true,
    autoResubscribe: false,
    commandTimeout: undefined,
    enableAutoPipelining: false,
    lazyConnect: false,
    maxRetriesPerRequest: null,
    connectionName: 'cache-bus',
    retryStrategy: (attempt: number) => Math.min(50 * attempt, 2_000),
  };
}

/** The master serving `channel`'s slot, from `CLUSTER KEYSLOT` and `CLUSTER SLOTS`. */
async function shardOwner(cluster: Cluster, channel: string): Promise<{ host: string; port: number }> {
  const slot = Number(await cluster.call('CLUSTER', 'KEYSLOT', channel));
  const ranges = (await cluster.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number, ...unknown[]], ...unknown[]]>;
  for (const [start, end, master] of ranges) {
    if (slot >= start && slot <= end) return { host: master[0] || '127.0.0.1', port: Number(master[1]) };
  }
  throw new Error(`no master serves slot ${slot} of the bus channel ${channel}`);
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
