import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type Database from 'better-sqlite3';
import express from 'express';
import { type Cache, SqliteStore, StoreError, cacheResponse, createCache } from '../../lib';
import { destroyAgent, listen, request } from '../http/helpers';

// Issue 25, rows 6 and 7 (and issue 24's SqliteStore part): a garbage file or an unusable path
// at boot, the file deleted while running, a full disk. The app starts and answers; the store
// says what is wrong (a StoreError naming the path and what to do, ready() false), reopens a
// deleted file, and a full disk stops writes, not reads.

const dir = mkdtempSync(path.join(os.tmpdir(), 'cache-kit-sqlite-files-'));
let files = 0;
const freshPath = (): string => path.join(dir, `${++files}.db`);
afterAll(() => {
  destroyAgent();
  rmSync(dir, { recursive: true, force: true });
});

async function appOn(cache: Cache): Promise<{ port: number; close(): Promise<void>; origin: () => number }> {
  let calls = 0;
  const app = express();
  app.get('/item/:id', cacheResponse({ cache, ttl: 60 }), (req, res) => {
    calls++;
    res.send(`item ${String(req.params.id)}`);
  });
  const running = await listen(app);
  return { port: running.port, close: () => running.close(), origin: () => calls };
}

describe.each([
  ['a garbage file', () => {
    const file = freshPath();
    writeFileSync(file, 'this is not a database, '.repeat(200));
    return { file, says: /not a SQLite database/ };
  }],
  ['a path below a regular file (a directory it cannot create)', () => {
    const blocker = freshPath();
    writeFileSync(blocker, 'a file, not a directory');
    return { file: path.join(blocker, 'cache.db'), says: /cannot use/ };
  }],
])('SqliteStore at boot on %s', (_name, prepare) => {
  test('the constructor does not throw, ready() resolves false, requests go to the origin with an error event', async () => {
    const { file, says } = prepare();
    const store = new SqliteStore({ path: file, pruneIntervalMs: 0 });
    expect(await store.ready()).toBe(false);
    expect(store.lastOpenError).toBeInstanceOf(StoreError);
    expect(store.lastOpenError?.message).toContain(file);
    expect(store.lastOpenError?.message).toMatch(says);
    const cache = createCache({ store });
    const errors: Error[] = [];
    cache.on('error', ({ error }) => void errors.push(error));
    const app = await appOn(cache);
    try {
      for (let i = 0; i < 3; i++) {
        const answer = await request(app.port, '/item/1');
        expect(answer.status).toBe(200);
        expect(answer.body.toString()).toBe('item 1');
      }
      expect(app.origin()).toBe(3);
      expect(errors.length).toBeGreaterThan(0);
      expect(errors[0]).toBeInstanceOf(StoreError);
    } finally {
      await app.close();
      await cache.close();
    }
  });
});

test('a garbage file moved away: ready() opens the path again', async () => {
  const file = freshPath();
  writeFileSync(file, 'garbage '.repeat(500));
  const store = new SqliteStore({ path: file, pruneIntervalMs: 0 });
  try {
    expect(await store.ready()).toBe(false);
    rmSync(file);
    expect(await store.ready()).toBe(true);
    await store.set('k', Buffer.from('v'), 60_000);
    expect((await store.get('k'))?.toString()).toBe('v');
  } finally {
    await store.close();
  }
});

test('the database file deleted while running: reported once (a StoreError), then the store reopens the path', async () => {
  const file = freshPath();
  const store = new SqliteStore({ path: file, pruneIntervalMs: 0, hitFlushIntervalMs: 20 });
  try {
    await store.set('k', Buffer.from('v'), 60_000);
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${file}${suffix}`, { force: true });
    let reported: unknown;
    for (let waited = 0; reported === undefined && waited < 100; waited++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      reported = await store.get('k').then(
        () => undefined,
        (error: unknown) => error,
      );
    }
    expect(reported).toBeInstanceOf(StoreError);
    expect((reported as Error).message).toMatch(/deleted or replaced/);
    // Reopened: the file is back, empty, and works.
    expect(existsSync(file)).toBe(true);
    expect(await store.get('k')).toBeUndefined();
    await store.set('k', Buffer.from('again'), 60_000);
    expect((await store.get('k'))?.toString()).toBe('again');
  } finally {
    await store.close();
  }
});

test('a full disk stops writes, not reads: stored entries keep hitting and the breaker stays closed', async () => {
  const store = new SqliteStore({ path: freshPath(), pruneIntervalMs: 0 });
  const cache = createCache({ store });
  const events: string[] = [];
  cache.on('degraded', () => void events.push('degraded'));
  cache.on('error', () => void events.push('error'));
  const app = await appOn(cache);
  try {
    for (let id = 0; id < 5; id++) {
      const before = cache.stats().sets;
      await request(app.port, `/item/${id}`);
      for (let waited = 0; cache.stats().sets === before && waited < 200; waited++) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    // The file may not grow by a single page more: SQLite answers SQLITE_FULL, as on a full disk.
    const db = (store as unknown as { db: Database.Database }).db;
    db.pragma(`max_page_count = ${Number(db.pragma('page_count', { simple: true }))}`);
    await expect(store.set('big', Buffer.alloc(64 * 1024, 1), 60_000)).resolves.toBeUndefined();
    expect(store.skippedWrites).toBeGreaterThan(0);
    for (let round = 0; round < 3; round++) {
      for (let id = 100; id < 110; id++) expect((await request(app.port, `/item/${id}-${round}`)).status).toBe(200);
      for (let id = 0; id < 5; id++) expect((await request(app.port, `/item/${id}`)).headers['x-cache']).toBe('HIT');
    }
    expect(events).not.toContain('degraded');
  } finally {
    await app.close();
    await cache.close();
  }
});
