/**
 * Metrics overhead server: `node --import tsx bench/scenarios/metrics-server.ts plain|metrics|metrics+tracing`.
 * Every variant is `cacheResponse` + MemoryStore on `GET /item` (the bench body); `metrics`
 * adds the metrics of issue 15: `prometheusMetrics` (its own registry, store timings through the
 * InstrumentedStore) and `cacheDashboard` (stats collector, hot keys, history sampler).
 * `metrics+tracing` also subscribes to every tracing channel (what an OpenTelemetry bridge does). Prints
 * `{"port":N}` when ready and exits when stdin closes, like `bench/server.ts`.
 */
import diagnostics from 'node:diagnostics_channel';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { Registry } from 'prom-client';
import { MemoryStore, cacheResponse, createCache } from '../../lib';
import { cacheDashboard } from '../../lib/dashboard';
import { prometheusMetrics } from '../../lib/metrics/prometheus';
import { CHANNELS } from '../../lib/metrics/tracing';
import { benchBody } from '../lib/body';

const variant = process.argv[2];
if (variant !== 'plain' && variant !== 'metrics' && variant !== 'metrics+tracing') throw new Error(`expected plain, metrics or metrics+tracing, got ${String(variant)}`);
setTimeout(() => process.exit(3), 20 * 60_000).unref();
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();

const body = benchBody();
const cache = createCache({ store: new MemoryStore() });
const app = express();
const cpu = { originCalls: 0 };
if (variant !== 'plain') {
  app.get('/metrics', prometheusMetrics({ cache, register: new Registry() }));
  app.use('/_cache', cacheDashboard({ cache, authorize: () => true }));
}
if (variant === 'metrics+tracing') {
  let spans = 0;
  const count = { start: () => void spans++, end() {}, asyncStart() {}, asyncEnd() {}, error() {} };
  for (const name of Object.values(CHANNELS)) diagnostics.tracingChannel(name).subscribe(count);
}
app.get('/stats', (_req, res) => {
  const usage = process.cpuUsage();
  res.setHeader('Cache-Control', 'no-store');
  res.json({ ...cpu, slowOriginCalls: 0, cacheErrors: 0, cpuMicros: usage.user + usage.system });
});
app.get('/item', cacheResponse({ cache, ttl: 300, keyPrefix: 'item' }), (_req, res) => {
  cpu.originCalls++;
  res.json(body);
});
const server = http.createServer(app);
server.listen({ port: 0, host: '127.0.0.1', backlog: 4_096 }, () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
