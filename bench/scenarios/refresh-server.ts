/**
 * Refresh scenario server: `node --import tsx bench/scenarios/refresh-server.ts plain|refresh`.
 * `cacheResponse` + MemoryStore on `GET /item` (the bench body) and on `GET /expiring` (a 50 ms
 * handler, TTL 0.2 s, stale-while-revalidate 60 s). `plain`: no refresh-ahead on `/item`, and
 * `/expiring` revalidates in the foreground (`backgroundRefresh: false`); `refresh`:
 * `refreshAhead: 0.1` on `/item` and background revalidation on `/expiring`. Prints
 * `{"port":N}` when ready and exits when stdin closes, like `bench/server.ts`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { MemoryStore, cacheResponse, createCache } from '../../lib';
import { benchBody } from '../lib/body';

const variant = process.argv[2];
if (variant !== 'plain' && variant !== 'refresh') throw new Error(`expected plain or refresh, got ${String(variant)}`);
setTimeout(() => process.exit(3), 20 * 60_000).unref();
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();

const body = benchBody();
const cache = createCache({ store: new MemoryStore() });
const app = express();
const cpu = { originCalls: 0 };
app.get('/stats', (_req, res) => {
  const usage = process.cpuUsage();
  res.setHeader('Cache-Control', 'no-store');
  res.json({ ...cpu, slowOriginCalls: 0, cacheErrors: 0, cpuMicros: usage.user + usage.system });
});
app.get('/item', cacheResponse({ cache, ttl: 300, keyPrefix: 'item', refreshAhead: variant === 'refresh' ? 0.1 : 0 }), (_req, res) => {
  cpu.originCalls++;
  res.json(body);
});
app.get('/expiring', cacheResponse({ cache, ttl: 0.2, keyPrefix: 'expiring', staleWhileRevalidate: 60, backgroundRefresh: variant === 'refresh' }), (_req, res) => {
  cpu.originCalls++;
  setTimeout(() => res.json({ at: Date.now() }), 50);
});
const server = http.createServer(app);
server.listen({ port: 0, host: '127.0.0.1', backlog: 4_096 }, () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
