/**
 * A Redis primary with a SQLite mirror, so a route keeps answering from the cache
 * (X-Cache: HIT) when Redis dies. `npm run demo:offline` (needs `redis-server` on the PATH).
 *
 * It starts its own throwaway redis-server (it is going to kill it, so never yours) and keeps the
 * SQLite file in a temp dir.
 *
 * `fallbackMode: 'mirror'` writes every entry to both stores and sends invalidations to both;
 * `'outage'` (the default) only uses the fallback while the primary is down, so it starts empty.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import { RedisStore, SqliteStore, cacheResponse, createCache } from 'express-cache-kit';

/** A redis-server of its own on a free loopback port, without persistence. */
async function startRedisServer(): Promise<{ url: string; stop(): Promise<void> }> {
  const probe = net.createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'inherit'] });
  child.once('error', (error) => console.error(`cannot start redis-server (${error.message}): install it (Debian: apt-get install redis-server)`));
  let output = '';
  for await (const chunk of child.stdout) {
    output += String(chunk);
    if (output.includes('Ready to accept connections')) break;
  }
  child.stdout.resume();
  const exited = once(child, 'exit');
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  const redis = await startRedisServer();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cache-kit-offline-'));
  try {
    const store = new RedisStore({ url: redis.url });
    await store.ready();
    // A file cache: it survives restarts, so it can also answer right after one.
    const fallback = new SqliteStore({ path: path.join(dir, 'offline.db') });
    const cache = createCache({ store, fallback, fallbackMode: 'mirror', breaker: { failureThreshold: 2, coolDownMs: 1_000 } });
    cache.on('degraded', ({ store: name }) => console.log(`  (the cache noticed ${name} is down and switched to the SQLite mirror)`));
    cache.on('error', () => undefined);

    let origin = 0;
    const app = express();
    // Data refreshed every 12 hours, always present.
    app.get('/tracks/:id', cacheResponse({ cache, ttl: 12 * 3600, keyPrefix: 'track' }), (req, res) => {
      origin++;
      res.json({ id: req.params.id, title: `Track ${req.params.id}`, fetchedFromSpotify: true });
    });
    const server = http.createServer(app).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const get = async (url: string): Promise<string> => {
      const res = await fetch(base + url);
      await res.arrayBuffer();
      return `${res.headers.get('x-cache') ?? '-'} ${res.status}`;
    };

    console.log(`Redis on ${redis.url}, SQLite at ${fallback.path}`);
    console.log(`GET /tracks/1 → ${await get('/tracks/1')}`);
    await sleep(50); // the write happens just after the answer
    console.log(`GET /tracks/1 → ${await get('/tracks/1')}`);
    console.log('killing redis-server...');
    await redis.stop();
    const after: string[] = [];
    for (let i = 0; i < 5; i++) after.push(await get('/tracks/1'));
    console.log(`5 × GET /tracks/1 after the kill → ${after.join(', ')}`);
    const hits = after.filter((line) => line.startsWith('HIT')).length;
    console.log(`origin calls: ${origin}`);
    console.log(
      hits === after.length
        ? 'every request after the kill was a HIT from the SQLite mirror'
        : `${after.length - hits} of ${after.length} requests after the kill went to the origin (with 'outage' semantics the fallback starts empty; 'mirror' has it filled already)`,
    );
    await new Promise((resolve) => server.close(resolve));
    await cache.close();
    await fallback.close();
  } finally {
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
