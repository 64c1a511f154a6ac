import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import express from 'express';
import request from 'supertest';
import { type Cache, type FullStore, MemoryStore, PostgresStore, RedisStore, SqliteStore, type Store, cacheResponse, createCache } from '../../lib';
import { cacheDashboard } from '../../lib/dashboard';
import { listen } from '../http/helpers';
import { emit } from '../metrics/emit';
import { testRedisUrl } from '../helpers/redis';
import { freePort } from '../helpers/redis-server';
import { testPostgresTable, testPostgresUrl } from '../helpers/postgres-server';

const ROOT = path.resolve(__dirname, '../..');
// Each CLI run is a fresh Node process compiling TypeScript: seconds apiece on a busy machine.
jest.setTimeout(120_000);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

// The environment of every run: the test process's, without the variables the CLI reads its
// defaults from (each test that needs one passes it).
const BASE_ENV = Object.fromEntries(Object.entries(process.env).filter(([name]) => !['REDIS_URL', 'DATABASE_URL', 'CACHE_DASHBOARD_TOKEN'].includes(name)));

/** Runs the real CLI in a child process, as `npx express-cache-kit` would, with `env` added. */
function cliWith(env: Record<string, string>, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', path.join(ROOT, 'lib/cli/main.ts'), ...args], { cwd: ROOT, timeout: 20_000, env: { ...BASE_ENV, ...env } }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

function cli(...args: string[]): Promise<Run> {
  return cliWith({}, ...args);
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
    await cache.set('content:c1', 'hello', { ttl: 300 }); // long enough for a slow run: the invalidate test expects it still there
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
    expect(byName.content?.ttlMaxMs).toBeLessThanOrEqual(300_000);
    expect(byName.character?.ttlMinMs).toBeGreaterThan(300_000);
  });

  it('keys [pattern] lists matching keys with TTLs, without locks or tag indexes', async () => {
    const all = await cli('keys', ...target, '--json');
    const keys = (JSON.parse(all.stdout) as { keys: Array<{ key: string; ttlMs: number; bytes: number }> }).keys;
    expect(keys).toHaveLength(6);
    expect(keys.every((k) => !k.key.includes('__'))).toBe(true);
    const some = await cli('keys', 'character:*', ...target);
    expect(some.code).toBe(0);
    expect(some.stdout.split('\n')[0]).toMatch(/^key\s+url\s+bytes\s+ttl$/);
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

  it('keys and inspect show the URL a response answers (stored with it, not derived from the hash)', async () => {
    const listed = JSON.parse((await cli('keys', 'api:*', ...target, '--json')).stdout) as { keys: Array<{ key: string; url?: string }> };
    expect(listed.keys.map((k) => k.url).sort()).toEqual(['GET /characters/1', 'GET /characters/2', 'GET /characters/3']);
    const table = await cli('keys', 'api:*', ...target);
    expect(table.stdout).toMatch(/api:\/characters\/:id:[0-9a-f]{40}\s+GET \/characters\/1\s/);
    const values = JSON.parse((await cli('keys', 'character:*', ...target, '--json')).stdout) as { keys: Array<{ url?: string }> };
    expect(values.keys.every((k) => k.url === undefined)).toBe(true);
    const one = listed.keys.find((k) => k.url === 'GET /characters/2')?.key as string;
    const shown = await cli('inspect', one, ...target);
    expect(shown.stdout).toMatch(/url\s+GET \/characters\/2\n/);
    expect(JSON.parse((await cli('inspect', one, ...target, '--json')).stdout)).toMatchObject({ url: 'GET /characters/2', source: { method: 'GET', path: '/characters/2', query: '' } });
  });

  it('REDIS_URL is the default target; --version prints the package version', async () => {
    const fromEnv = await cliWith({ REDIS_URL: testRedisUrl() }, 'stats', '--namespace', namespace, '--json');
    expect(fromEnv.stderr).toBe('');
    expect((JSON.parse(fromEnv.stdout) as { entries: number }).entries).toBe(6);
    const { version } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-v']) {
      const run = await cli(flag);
      expect([run.code, run.stdout, run.stderr]).toEqual([0, `${version}\n`, '']);
    }
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
    expect(noTarget.stderr).toContain('stats needs a target: --redis <url>, --postgres <url>, --sqlite <file> or --stats-url <url> (or REDIS_URL / DATABASE_URL in the environment)');
    const sqlite = await cli('stats', '--sqlite', path.join(ROOT, 'no-such-dir', 'x.db'));
    expect(sqlite.code).toBe(1);
    expect(sqlite.stderr).toContain('no SQLite database at');
    const two = await cli('stats', '--sqlite', 'x.db', '--redis', 'redis://127.0.0.1:1');
    expect(two.stderr).toContain('pass one target');
  });
});

/** Fills `cache` the way an app would: three route answers (one with a query), two tagged values, one plain value. */
async function fill(cache: Cache): Promise<void> {
  const before = cache.stats().sets;
  const app = express();
  app.get('/characters/:id', cacheResponse({ cache, ttl: 300 }), (req, res) => void res.json({ id: req.params.id, name: 'Ada' }));
  for (const url of ['/characters/1', '/characters/2?lang=fr']) await request(app).get(url).expect('X-Cache', 'MISS');
  await cache.set('character:char_1', { name: 'Ada' }, { ttl: 600, tags: ['team:blue'] });
  await cache.set('character:char_2', { name: 'Grace' }, { ttl: 600, tags: ['team:blue'] });
  await cache.set('content:c1', 'hello', { ttl: 300 });
  for (let i = 0; i < 200 && cache.stats().sets < before + 5; i++) await new Promise((r) => setTimeout(r, 10));
  expect(cache.stats().sets).toBe(before + 5);
  // Bookkeeping the engine leaves in the store: a soft invalidation's marks and stamps, a Vary
  // record; none of them is an entry.
  await cache.set('gone:1', 1);
  await cache.invalidatePattern('gone:*', { soft: true });
}

/**
 * The same checks on every SQL target, given how to name it on the command line. 3 tags: the
 * values' one, and one path tag per stored route answer (invalidation by writes).
 */
async function checkTarget(args: string[], env: Record<string, string> = {}, tags: number | null = 3): Promise<void> {
  const stats = await cliWith(env, 'stats', ...args, '--json');
  expect(stats.stderr).toBe('');
  const parsed = JSON.parse(stats.stdout) as { entries: number; tags: number | null; endpoints: Array<{ endpoint: string; entries: number }> };
  const byName = Object.fromEntries(parsed.endpoints.map((e) => [e.endpoint, e.entries]));
  expect(byName).toMatchObject({ '/characters/:id': 2, character: 2, content: 1 });
  expect(Object.keys(byName).filter((name) => name.startsWith('__') || name.startsWith('{'))).toEqual([]);
  expect(parsed.tags).toBe(tags);
  const keys = JSON.parse((await cliWith(env, 'keys', 'api:*', ...args, '--json')).stdout) as { keys: Array<{ key: string; url?: string }> };
  expect(keys.keys.map((k) => k.url).sort()).toEqual(['GET /characters/1', 'GET /characters/2?lang=fr']);
  // Pages of one: every entry once, linked by the cursor.
  const seen: string[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < 10; i++) {
    const page = JSON.parse((await cliWith(env, 'keys', ...args, '--limit', '2', ...(cursor === null ? [] : ['--cursor', cursor]), '--json')).stdout) as { keys: Array<{ key: string }>; cursor: string | null };
    seen.push(...page.keys.map((k) => k.key));
    cursor = page.cursor;
    if (cursor === null) break;
  }
  expect(seen).toHaveLength(parsed.entries);
  expect(new Set(seen).size).toBe(parsed.entries);
  const withQuery = keys.keys.find((k) => k.url === 'GET /characters/2?lang=fr')?.key as string;
  expect(JSON.parse((await cliWith(env, 'inspect', withQuery, ...args, '--json')).stdout)).toMatchObject({ kind: 'response', status: 200, url: 'GET /characters/2?lang=fr', body: { id: '2', name: 'Ada' } });
  expect(JSON.parse((await cliWith(env, 'inspect', 'character:char_2', ...args, '--json')).stdout)).toMatchObject({ kind: 'value', value: { name: 'Grace' } });
  expect((await cliWith(env, 'inspect', 'character:nobody', ...args)).code).toBe(1);
  expect((await cliWith(env, 'invalidate', '--tag', 'team:blue', ...args)).stdout).toBe('removed 2 entries (tag team:blue)\n');
  expect((await cliWith(env, 'invalidate', '--pattern', 'api:*', ...args, '--json')).stdout).toBe('{"invalidated":"pattern api:*","count":2}\n');
  const after = JSON.parse((await cliWith(env, 'stats', ...args, '--json')).stdout) as { entries: number };
  expect(after.entries).toBe(parsed.entries - 4);
}

/** The environment names the target: stats finds the same entries. */
async function checkEnvTarget(args: string[], env: Record<string, string>): Promise<void> {
  const stats = await cliWith(env, 'stats', ...args, '--json');
  expect(stats.stderr).toBe('');
  const byName = Object.fromEntries((JSON.parse(stats.stdout) as { endpoints: Array<{ endpoint: string; entries: number }> }).endpoints.map((e) => [e.endpoint, e.entries]));
  expect(byName).toMatchObject({ '/characters/:id': 2, character: 2, content: 1 });
}

describe('express-cache-kit CLI on the SQL stores', () => {
  it('--postgres (and DATABASE_URL): stats, keys with URLs, inspect and invalidate, internal keys left out', async () => {
    const url = testPostgresUrl();
    const table = testPostgresTable('cli');
    const store = new PostgresStore({ connectionString: url, table, pruneIntervalMs: 0, operationTimeoutMs: 5_000 });
    expect(await store.ready()).toBe(true);
    const cache = createCache({ store, namespace: 'pgapp' });
    try {
      await fill(cache);
      await checkTarget(['--postgres', url, '--table', table, '--namespace', 'pgapp']);
      await fill(cache);
      await checkEnvTarget(['--table', table, '--namespace', 'pgapp'], { DATABASE_URL: url });
      const missing = await cli('stats', '--postgres', url, '--table', 'no_such_table');
      expect([missing.code, missing.stderr]).toEqual([1, expect.stringContaining('no table no_such_table')]);
      const port = await freePort();
      const down = await cli('stats', '--postgres', `postgres://cache@127.0.0.1:${port}/cache`);
      expect(down.code).toBe(2);
      expect(down.stderr).toContain(`cannot reach PostgreSQL postgres://cache@127.0.0.1:${port}/cache (table cache_entries) (ECONNREFUSED)`);
    } finally {
      await cache.close();
    }
  });

  it('--sqlite (and DATABASE_URL=sqlite:…): the same, reading the file read-only', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cli-sqlite-'));
    const file = path.join(dir, 'cache.db');
    const cache = createCache({ store: new SqliteStore({ path: file, pruneIntervalMs: 0 }) as Store, namespace: 'liteapp' });
    try {
      await fill(cache);
      await checkTarget(['--sqlite', file, '--namespace', 'liteapp']);
      await fill(cache);
      await checkEnvTarget(['--namespace', 'liteapp'], { DATABASE_URL: `sqlite:${file}` });
    } finally {
      await cache.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('express-cache-kit CLI on an app using the memory store (--stats-url)', () => {
  it('reads stats, keys with URLs and entries from the app\'s dashboard, and invalidates through it, with the token', async () => {
    const token = 'cli-dashboard-token-0123';
    const cache = createCache({ store: new MemoryStore(), namespace: 'memapp' });
    const board = cacheDashboard({ cache, token });
    const app = express();
    app.use('/_cache', board);
    const server = await listen(app);
    try {
      await fill(cache);
      const statsUrl = `http://127.0.0.1:${server.port}/_cache/stats.json`;
      const refused = await cli('stats', '--stats-url', statsUrl);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('answered 401');
      expect(refused.stderr).toContain('--token');
      // The app's tag indexes are not visible through the dashboard: tags is null there.
      await checkTarget(['--stats-url', statsUrl, '--token', token], {}, null);
      // The token from the environment works too.
      await fill(cache);
      const viaEnv = await cliWith({ CACHE_DASHBOARD_TOKEN: token }, 'stats', '--stats-url', statsUrl, '--json');
      expect((JSON.parse(viaEnv.stdout) as { entries: number }).entries).toBe(6);
      const port = await freePort();
      const down = await cli('keys', '--stats-url', `http://127.0.0.1:${port}/_cache/stats.json`);
      expect([down.code, down.stderr]).toEqual([2, `express-cache-kit: cannot reach http://127.0.0.1:${port}/_cache/stats.json (ECONNREFUSED)\n`]);
    } finally {
      board.close();
      await server.close();
      await cache.close();
    }
  });
});

describe('express-cache-kit CLI with no namespace', () => {
  it('never counts the library\'s bookkeeping keys (stamps, soft marks, tag indexes, Vary records, locks) as entries or endpoints', async () => {
    const url = `${testRedisUrl()}/11`;
    const store = new RedisStore({ url, operationTimeoutMs: 2_000 });
    expect(await store.ready()).toBe(true);
    await store.client.flushdb();
    const cache = createCache({ store });
    try {
      const app = express();
      app.get('/langs', cacheResponse({ cache, ttl: 300 }), (req, res) => void res.set('Vary', 'Accept-Language').json({ lang: req.get('accept-language') }));
      await request(app).get('/langs').set('accept-language', 'fr').expect('X-Cache', 'MISS');
      await cache.set('character:char_1', 1, { tags: ['team:blue'] });
      await cache.set('character:char_2', 2);
      await cache.invalidateScope('character', 'char_2');
      await cache.set('character:char_3', 3);
      await cache.invalidatePattern('character:char_3', { soft: true });
      expect(await (cache.store as FullStore).acquireLock('__lock__:api:held', 60_000)).toBeDefined();
      for (let i = 0; i < 200 && cache.stats().sets < 4; i++) await new Promise((r) => setTimeout(r, 10));
      const raw = await store.client.keys('*');
      // The store really holds bookkeeping next to the entries...
      expect(raw.filter((key) => key.startsWith('__') || key.includes(':__')).length).toBeGreaterThanOrEqual(3);
      const run = await cli('stats', '--redis', url, '--json');
      const parsed = JSON.parse(run.stdout) as { entries: number; endpoints: Array<{ endpoint: string; entries: number }> };
      // ...and none of it is counted: the Vary variant of /langs, char_1 and (stale) char_3.
      expect(parsed.endpoints.map((e) => e.endpoint).sort()).toEqual(['/langs', 'character']);
      expect(parsed.entries).toBe(raw.filter((key) => !/^\{?__[a-z0-9]+__/.test(key)).length);
      const keys = JSON.parse((await cli('keys', '--redis', url, '--json')).stdout) as { keys: Array<{ key: string }> };
      expect(keys.keys.filter((k) => k.key.includes('__'))).toEqual([]);
    } finally {
      await store.client.flushdb();
      await cache.close();
    }
  });
});
