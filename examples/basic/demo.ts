/**
 * Starts the example app on a free port with the default in-memory cache, sends a few requests
 * and prints MISS/HIT with each latency, then exits. Run with `npm run demo`.
 */
import type { AddressInfo } from 'node:net';
import { createCache, getDefaultCache } from 'express-cache-kit';
import { createApp } from './app';

export async function runDemo(label: string, cache = getDefaultCache()): Promise<void> {
  const server = createApp(cache).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  console.log(`${label}: app on ${base}`);
  const paths = ['/status', '/status', '/characters/char_123?fields=name&lang=en', '/characters/char_123?lang=en&fields=name', '/characters/char_9'];
  for (const path of paths) {
    const started = process.hrtime.bigint();
    const res = await fetch(base + path);
    await res.arrayBuffer();
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    console.log(`${(res.headers.get('x-cache') ?? '-').padEnd(5)} ${String(res.status)} ${ms.toFixed(1).padStart(7)} ms  GET ${path}`);
    // Writes happen just after the response; give the next request something to hit.
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  console.log('stats:', cache.stats());
  await new Promise((resolve) => server.close(resolve));
  await cache.close();
}

if (require.main === module) {
  runDemo('memory store', createCache()).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
