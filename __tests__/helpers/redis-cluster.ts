import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Cluster, ClusterOptions } from 'ioredis';
import { newCluster } from './redis';
import { type RedisServer, freePort, startRedisServer } from './redis-server';

const run = promisify(execFile);

/** A throwaway local Redis Cluster (masters only) this process started. */
export interface RedisCluster {
  nodes: Array<{ host: string; port: number }>;
  stop(): Promise<void>;
}

/**
 * Starts `masters` cluster-enabled redis-servers on free loopback ports (the bus port chosen
 * explicitly, since port + 10000 may not exist), joins them with `redis-cli --cluster create`
 * and waits until every node reports `cluster_state:ok`.
 */
export async function startRedisCluster(masters = 3): Promise<RedisCluster> {
  const servers: RedisServer[] = [];
  try {
    for (let i = 0; i < masters; i++) {
      const busPort = await freePort();
      servers.push(
        await startRedisServer({ args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-port', String(busPort)] }),
      );
    }
    const addresses = servers.map((server) => `127.0.0.1:${server.port}`);
    await run('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes']);
    const deadline = Date.now() + 15_000;
    for (const server of servers) {
      for (;;) {
        const { stdout } = await run('redis-cli', ['-p', String(server.port), 'cluster', 'info']);
        if (stdout.includes('cluster_state:ok')) break;
        if (Date.now() > deadline) throw new Error(`cluster did not become ready on port ${server.port}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  } catch (error) {
    await Promise.all(servers.map((server) => server.stop()));
    throw error;
  }
  return {
    nodes: servers.map((server) => ({ host: '127.0.0.1', port: server.port })),
    stop: async () => {
      await Promise.all(servers.map((server) => server.stop()));
    },
  };
}

/**
 * A `Cluster` client (of the ioredis major `IOREDIS_MAJOR` selects) on `cluster`, resolved once
 * it is ready. Yours to quit.
 */
export async function connectCluster(cluster: RedisCluster, options: ClusterOptions = {}): Promise<Cluster> {
  const client = newCluster(cluster.nodes, options);
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('error', reject);
  });
  return client;
}
