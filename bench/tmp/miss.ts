import http from 'node:http';
import express from 'express';
import { cacheResponse, createCache } from '../../lib';
const cache = createCache();
const app = express();
const body = { id: 1, name: 'Ada', tags: ['a', 'b'], text: 'x'.repeat(200) };
app.get('/bare/:id', (_req, res) => { res.json(body); });
app.get('/c/:id', cacheResponse({ cache, ttl: 60 }), (_req, res) => { res.json(body); });
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
const server = app.listen(0, '127.0.0.1', async () => {
  const port = (server.address() as { port: number }).port;
  const get = (path: string) => new Promise<void>((resolve) => { http.get({ host: '127.0.0.1', port, path, agent }, (res) => { res.resume(); res.on('end', resolve); }); });
  const run = async (prefix: string, n: number, round = 0) => { const t = process.cpuUsage(); let i = 0; const worker = async () => { while (i < n) { const k = i++; await get(`${prefix}/${k}?q=${k}&b=2&r=${round}`); } }; await Promise.all(Array.from({ length: 8 }, worker)); const u = process.cpuUsage(t); return (u.user + u.system) / n; };
  for (let r = 0; r < Number(process.env.ROUNDS ?? 3); r++) { const bare = await run('/bare', 4000); const miss = await run("/c", 4000, r); console.log({ bare, miss, ratio: miss / bare }); }
  server.close(); agent.destroy(); await cache.close();
});
