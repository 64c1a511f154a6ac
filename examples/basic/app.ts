import express from 'express';
import { type Cache, cacheResponse } from 'express-cache-kit';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A small API whose handlers are slow on purpose, so a HIT is visibly faster than a MISS. */
export function createApp(cache?: Cache): express.Express {
  const app = express();

  app.get('/status', cacheResponse({ cache, keyPrefix: 'status', ttl: 'system_status' }), async (_req, res) => {
    await sleep(80); // e.g. probing downstream services
    res.json({ ok: true, checkedAt: new Date().toISOString() });
  });

  app.get('/characters/:id', cacheResponse({ cache, keyPrefix: 'character', ttl: 'character' }), async (req, res) => {
    await sleep(120); // e.g. a database query
    res.json({ id: req.params.id, name: `Character ${req.params.id}`, fields: req.query });
  });

  return app;
}
