import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import express from 'express';
import { SqliteStore, cacheResponse, createCache } from '../../lib';
import { destroyAgent, listen, request } from '../http/helpers';

// Issue 25, row 5: another process holds SQLite's write lock. better-sqlite3 is synchronous, so a
// busy timeout would stop the event loop for every write; the store must never wait for the
// lock synchronously, and reads must keep hitting.

const dir = mkdtempSync(path.join(os.tmpdir(), 'cache-kit-sqlite-lock-'));
let files = 0;
const freshPath = (): string => path.join(dir, `${++files}.db`);
afterAll(() => {
  destroyAgent();
  rmSync(dir, { recursive: true, force: true });
});

// Far above what a healthy turn of the loop takes here, far below one busy wait of the store's
// `operationTimeoutMs` (1 s): the gap is what the assertions rely on, not the machine's speed.
const OPERATION_TIMEOUT_MS = 1_000;
const LOOP_DELAY_BOUND_MS = 500;

describe('SqliteStore while another connection holds the write lock (BEGIN EXCLUSIVE)', () => {
  test('requests keep flowing: the event loop never waits on the lock, warm entries keep hitting, writes are skipped', async () => {
    const store = new SqliteStore({ path: freshPath(), pruneIntervalMs: 0, operationTimeoutMs: OPERATION_TIMEOUT_MS });
    const cache = createCache({ store });
    const errors: string[] = [];
    cache.on('error', ({ operation }) => void errors.push(operation));
    let sets = 0;
    cache.on('set', () => void sets++);
    const app = express();
    app.get('/item/:id', cacheResponse({ cache, ttl: 60 }), (req, res) => void res.send(`item ${String(req.params.id)}`));
    const running = await listen(app);
    const other = new Database(store.path);
    try {
      for (let id = 0; id < 10; id++) await request(running.port, `/item/${id}`);
      for (let waited = 0; sets < 10 && waited < 400; waited++) await new Promise((resolve) => setTimeout(resolve, 5));
      expect(sets).toBe(10);

      other.exec('BEGIN EXCLUSIVE');
      const delay = monitorEventLoopDelay({ resolution: 5 });
      delay.enable();
      const answers = await Promise.all(
        Array.from({ length: 4 }, async (_, lane) => {
          const seen: Array<{ path: string; status: number; cache: unknown; body: string }> = [];
          for (let i = 0; i < 10; i++) {
            // Each lane alternates a warm id (a hit) and a new one (a miss whose write finds the lock).
            const path = i % 2 === 0 ? `/item/${(lane * 5 + i / 2) % 10}` : `/item/new-${lane}-${i}`;
            const answer = await request(running.port, path);
            seen.push({ path, status: answer.status, cache: answer.headers['x-cache'], body: answer.body.toString() });
          }
          return seen;
        }),
      );
      // Let the misses' writes run into the lock before the lock goes away.
      await new Promise((resolve) => setTimeout(resolve, 50));
      delay.disable();
      other.exec('COMMIT');

      const all = answers.flat();
      expect(all.every((answer) => answer.status === 200 && answer.body === `item ${answer.path.slice('/item/'.length)}`)).toBe(true);
      expect(all.filter((answer) => !answer.path.includes('new-')).map((answer) => answer.cache)).toEqual(Array.from({ length: 20 }, () => 'HIT'));
      expect(store.skippedWrites).toBeGreaterThan(0);
      expect(delay.max / 1e6).toBeLessThan(LOOP_DELAY_BOUND_MS);
      // A locked file is not a failing store: nothing was reported (fill locks were taken in
      // this process meanwhile), and writes work again at once.
      expect(errors).toEqual([]);
      const before = sets;
      await request(running.port, '/item/after');
      for (let waited = 0; sets === before && waited < 400; waited++) await new Promise((resolve) => setTimeout(resolve, 5));
      expect((await request(running.port, '/item/after')).headers['x-cache']).toBe('HIT');
    } finally {
      if (other.inTransaction) other.exec('ROLLBACK');
      other.close();
      await running.close();
      await cache.close();
    }
  });

  test('a delete (an invalidation must not be lost) waits for the lock on a timer, with the event loop running', async () => {
    const store = new SqliteStore({ path: freshPath(), pruneIntervalMs: 0, operationTimeoutMs: OPERATION_TIMEOUT_MS });
    const other = new Database(store.path);
    try {
      await store.set('k', Buffer.from('v'), 60_000);
      other.exec('BEGIN EXCLUSIVE');
      let turns = 0;
      const ticker = setInterval(() => void turns++, 5);
      // The other process lets go after a while; a synchronous busy wait would never see it.
      const release = setTimeout(() => other.exec('COMMIT'), 100);
      const deleted = await store.delete('k');
      clearInterval(ticker);
      clearTimeout(release);
      expect(deleted).toBe(true);
      expect(turns).toBeGreaterThan(0);
      expect(await store.get('k')).toBeUndefined();
    } finally {
      if (other.inTransaction) other.exec('ROLLBACK');
      other.close();
      await store.close();
    }
  });
});
