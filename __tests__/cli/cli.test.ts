import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import express from 'express';
import request from 'supertest';
import { type Cache, type FullStore, RedisStore, cacheResponse, createCache } from '../../lib';
import { cacheDashboard } from '../../lib/dashboard';
import { listen } from '../http/helpers';
import { emit } from '../metrics/emit';
import { testRedisUrl } from '../helpers/redis';
import { freePort } from '../helpers/redis-server';

const ROOT = path.resolve(__dirname, '../..');
// Each CLI run is a fresh Node process compiling TypeScript: seconds apiece on a busy machine.
jest.setTimeout(120_000);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI in a child process, as `npx express-cache-kit` would. */
function cli(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', path.join(ROOT, 'lib/cli/main.ts'), ...args], { cwd: ROOT, timeout: 20_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('express-cache-kit CLI on a real Redis', () => {
  const namespace = `cli${randomBytes(3).toString('hex')}`;
  let cache: Cache;
  let target: string[];

  beforeAll(async () => {
    const url = testRedisUrl();
    target = ['--redis', url, '--namespace', namespace];
    const store = new RedisStore({ url, operationTimeoutMs: 2_000 });
    await store.ready();
    cache = createCache({ store, namespace });
    const app = express();
    app.get('/characters/:id', cacheResponse({ cache, ttl: 300 }), (req, res) => void res.json({ id: req.params.id, name: 'Ada' }));
    for (const id of ['1', '2', '3']) await request(app).get(`/characters/${id}`).expect('X-Cache', 'MISS');
    await cache.set('character:char_1', { name: 'Ada', born: 1815 }, { ttl: 600, tags: ['team:blue'] });
    await cache.set('character:char_2', { name: 'Grace' }, { ttl: 600, tags: ['team:blue'] });
    await cache.set('content:c1', 'hello', { ttl: 60 });
    for (let i = 0; i < 100 && cache.stats().sets < 6; i++) await new Promise((r) => setTimeout(r, 10));
    // A fill lock held in the namespace: coordination, not an entry; no command may list it.
    expect(await (cache.store as FullStore).acquireLock(`${namespace}:__lock__:api:held`, 60_000)).toBeDefined();
    expect(cache.stats().sets).toBe(6);
  });
  afterAll(async () => {
    await cache.clear();
    await cache.close();
  });

  it('stats: entries, bytes and TTL spread per endpoint, and the tags count, as a table and as JSON', async () => {
    const table = await cli('stats', ...target);
    expect(table.stderr).toBe('');
    expect(table.code).toBe(0);
    // 1 tag of the values, plus one path tag per stored route answer (for invalidation by writes).
    expect(table.stdout).toMatch(/^6 entries, .*, 4 tags in namespace/);
    expect(table.stdout).toMatch(/\/characters\/:id\s+3\s/);
    expect(table.stdout).toMatch(/character\s+2\s/);
    const json = await cli('stats', ...target, '--json');
    const parsed = JSON.parse(json.stdout) as { entries: number; tags: number; endpoints: Array<{ endpoint: string; entries: number; ttlMaxMs: number; ttlMinMs: number }> };
    expect(parsed.entries).toBe(6);
    expect(parsed.tags).toBe(4);
    const byName = Object.fromEntries(parsed.endpoints.map((e) => [e.endpoint, e]));
    expect(byName['/characters/:id']?.entries).toBe(3);
    expect(byName.character?.entries).toBe(2);
    expect(byName.content?.ttlMaxMs).toBeLessThanOrEqual(60_000);
    expect(byName.character?.ttlMinMs).toBeGreaterThan(60_000);
  });

  it('keys [pattern] lists matching keys with TTLs, without locks or tag indexes', async () => {
    const all = await cli('keys', ...target, '--json');
    const keys = (JSON.parse(all.stdout) as { keys: Array<{ key: string; ttlMs: number; bytes: number }> }).keys;
    expect(keys).toHaveLength(6);
    expect(keys.every((k) => !k.key.includes('__'))).toBe(true);
    const some = await cli('keys', 'character:*', ...target);
    expect(some.code).toBe(0);
    expect(some.stdout.split('\n')[0]).toMatch(/^key\s+bytes\s+ttl$/);
    expect(some.stdout).toContain('character:char_1');
    expect(some.stdout).toContain('character:char_2');
    expect(some.stdout).not.toContain('content:c1');
    // Pages: every key exactly once over the pages, each page cursor-linked to the next.
    const pages: string[][] = [];
    let cursor: string | null = '0';
    while (cursor !== null && pages.length < 20) {
      const page = JSON.parse((await cli('keys', ...target, '--limit', '1', '--cursor', cursor, '--json')).stdout) as { keys: Array<{ key: string }>; cursor: string | null };
      pages.push(page.keys.map((k) => k.key));
      cursor = page.cursor;
    }
    expect(pages.length).toBeGreaterThan(1);
    // SCAN returns every key present throughout the walk at least once; a resize of the server's
    // table meanwhile (other test files write to it) may return one twice.
    expect([...new Set(pages.flat())].sort()).toEqual(keys.map((k) => k.key).sort());
    const first = await cli('keys', ...target, '--limit', '1');
    expect(first.stdout).toMatch(/\(more keys: add --cursor \d+ for the next page\)/);
  });

  it('inspect <key> decodes a value and a response', async () => {
    const value = await cli('inspect', 'character:char_1', ...target, '--json');
    expect(value.code).toBe(0);
    expect(JSON.parse(value.stdout)).toMatchObject({ kind: 'value', value: { name: 'Ada', born: 1815 }, fresh: true });
    const keys = (JSON.parse((await cli('keys', 'api:*', ...target, '--json')).stdout) as { keys: Array<{ key: string }> }).keys;
    const response = await cli('inspect', keys[0]?.key as string, ...target);
    expect(response.code).toBe(0);
    expect(response.stdout).toMatch(/status\s+200/);
    expect(response.stdout).toContain('content-type: application/json');
    expect(response.stdout).toContain('"name": "Ada"');
    const missing = await cli('inspect', 'character:nobody', ...target);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no entry under character:nobody');
  });

  it('invalidate --tag, --scope and --pattern remove what they name and nothing else', async () => {
    const tag = await cli('invalidate', '--tag', 'team:blue', ...target);
    expect(tag.stdout).toBe('removed 2 entries (tag team:blue)\n');
    expect(await cache.get('character:char_1')).toBeUndefined();
    expect(await cache.get('content:c1')).toBe('hello');
    const scope = await cli('invalidate', '--scope', 'content', '--id', 'c1', ...target, '--json');
    expect(JSON.parse(scope.stdout)).toEqual({ invalidated: 'scope content:c1', count: 1 });
    const pattern = await cli('invalidate', '--pattern', 'api:*', ...target);
    expect(pattern.stdout).toBe('removed 3 entries (pattern api:*)\n');
    const none = JSON.parse((await cli('stats', ...target, '--json')).stdout) as { entries: number };
    expect(none.entries).toBe(0);
    const usage = await cli('invalidate', ...target);
    expect(usage.code).toBe(1);
    expect(usage.stderr).toContain('exactly one of --pattern');
  });

  it('an unreachable server is one line and exit 2', async () => {
    const port = await freePort();
    for (const command of [['stats'], ['keys'], ['invalidate', '--tag', 'x']]) {
      const run = await cli(...command, '--redis', `redis://127.0.0.1:${port}`);
      expect(run.code).toBe(2);
      expect(run.stderr).toBe(`express-cache-kit: cannot reach Redis at redis://127.0.0.1:${port} (ECONNREFUSED)\n`);
      expect(run.stdout).toBe('');
    }
  });

  it('watch polls a running app\'s dashboard JSON and prints per-endpoint deltas', async () => {
    const app = express();
    const watched = createCache();
    const board = cacheDashboard({ cache: watched, authorize: (req) => req.get('x-admin') === 'yes' });
    app.use('/_cache', board);
    const server = await listen(app);
    try {
      for (let i = 0; i < 3; i++) emit(watched, 'hit', { key: 'k', endpoint: 'users' });
      emit(watched, 'miss', { key: 'k', endpoint: 'users' });
      const url = `http://127.0.0.1:${server.port}/_cache/stats.json`;
      const run = await cli('watch', '--url', url, '--header', 'x-admin: yes', '--count', '2', '--interval', '0.2', '--json');
      expect(run.stderr).toBe('');
      const lines = run.stdout.trim().split('\n').map((line) => JSON.parse(line) as { endpoints: Array<{ endpoint: string; hits: number; misses: number; hitRate: number }> });
      expect(lines).toHaveLength(2);
      expect(lines[0]?.endpoints).toEqual([expect.objectContaining({ endpoint: 'users', hits: 3, misses: 1, hitRate: 0.75 })]);
      expect(lines[1]?.endpoints).toEqual([expect.objectContaining({ endpoint: 'users', hits: 0, misses: 0 })]);
      const table = await cli('watch', '--url', url, '--header', 'x-admin: yes', '--count', '1');
      expect(table.stdout).toMatch(/users\s+3\s+1\s+0\s+0\s+0\s+75\.0%/);
      const refused = await cli('watch', '--url', url, '--count', '1');
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('answered 403');
    } finally {
      board.close();
      await server.close();
      await watched.close();
    }
    const port = await freePort();
    const down = await cli('watch', '--url', `http://127.0.0.1:${port}/_cache/stats.json`, '--count', '1');
    expect(down.code).toBe(2);
    expect(down.stderr).toBe(`express-cache-kit: cannot reach http://127.0.0.1:${port}/_cache/stats.json (ECONNREFUSED)\n`);
  });

  it('usage errors exit 1 and name what to change', async () => {
    const none = await cli();
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('Usage: express-cache-kit');
    const noTarget = await cli('stats');
    expect(noTarget.code).toBe(1);
    expect(noTarget.stderr).toContain('stats needs --redis <url>');
    const sqlite = await cli('stats', '--sqlite', 'x.db');
    expect(sqlite.stderr).toContain('--postgres and --sqlite are not supported yet');
  });
});
