import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import express from 'express';
import { type Browser, chromium } from 'playwright-core';
import { type Cache, MemoryStore, cacheResponse, createCache } from '../../lib';
import { cacheDashboard } from '../../lib/dashboard';
import { listEntries } from '../../lib/metrics/inventory';
import { type Running, listen, request } from '../http/helpers';
import { CHROMIUM_ARGS, findChromium } from './chromium';

const executablePath = findChromium();
if (executablePath === undefined) process.stderr.write('dashboard browser test skipped: no chromium (install Debian package "chromium" as root, or set CHROMIUM_PATH)\n');
const describeBrowser = executablePath === undefined ? describe.skip : describe;

// Under a temporary folder: a test run never rewrites a tracked file. To refresh the picture in
// the docs: DASHBOARD_SCREENSHOT=docs/dashboard.png npx jest __tests__/dashboard/browser.test.ts
const SHOTS = mkdtempSync(path.join(tmpdir(), 'cache-dashboard-'));
const SCREENSHOT = process.env.DASHBOARD_SCREENSHOT ? path.resolve(process.env.DASHBOARD_SCREENSHOT) : path.join(SHOTS, 'dashboard.png');
const TOKEN = 'a-dashboard-token-for-tests';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describeBrowser('cacheDashboard in headless Chromium', () => {
  let browser: Browser;
  let cache: Cache;
  let server: Running;
  let dashboard: ReturnType<typeof cacheDashboard>;

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS, headless: true });
    cache = createCache({ store: new MemoryStore(), namespace: 'demo' });
    dashboard = cacheDashboard({ cache, token: TOKEN, sampleIntervalMs: 250 });
    const app = express();
    app.use('/_cache', dashboard);
    app.get('/characters/:id', cacheResponse({ cache, ttl: 300 }), (req, res) => void res.json({ id: req.params.id, name: `character ${req.params.id}`, bio: 'x'.repeat(200 * Number(req.params.id)) }));
    app.get('/status', cacheResponse({ cache, ttl: 60, keyPrefix: 'status' }), (_req, res) => void res.json({ ok: true }));
    app.get('/search', cacheResponse({ cache, ttl: 60, keyPrefix: 'search' }), (req, res) => void res.json({ q: req.query.q }));
    app.get('/login', cacheResponse({ cache, ttl: 60, keyPrefix: 'login' }), (_req, res) => void res.cookie('sid', 'abc').json({ ok: true }));
    server = await listen(app);
  });
  afterAll(async () => {
    await browser?.close();
    dashboard?.close();
    await server?.close();
    await cache?.close();
    rmSync(SHOTS, { recursive: true, force: true });
  });

  it('signs in with the token as a user would, draws hit rates after traffic, lists entries by URL, and invalidates from the form', async () => {
    // No injected headers: the browser gets in only through the sign-in form and its cookie.
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const consoleErrors: string[] = [];
    page.on('console', (message) => void (message.type() === 'error' && !/status of 401/.test(message.text()) && consoleErrors.push(message.text())));
    page.on('pageerror', (error) => void consoleErrors.push(error.message));
    const base = `http://127.0.0.1:${server.port}`;
    const first = await page.goto(`${base}/_cache/`);
    expect(first?.status()).toBe(401);
    await page.fill('#token', 'not-the-token-at-all');
    await page.click('#sign-in button');
    await page.locator('.error', { hasText: 'Wrong token.' }).waitFor();
    await page.fill('#token', TOKEN);
    await Promise.all([page.waitForURL(`${base}/_cache/`), page.click('#sign-in button')]);
    await page.waitForSelector('#totals .stat');
    const [session] = (await context.cookies()).filter((c) => c.name === 'cache_dashboard_session');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/_cache/' });

    // Traffic in rounds a sample apart, so each endpoint gets several points.
    for (let round = 0; round < 6; round++) {
      for (let id = 1; id <= 3 + round; id++) await request(server.port, `/characters/${id}`);
      await request(server.port, '/status');
      await request(server.port, `/search?q=${round % 3}`);
      await request(server.port, '/login');
      await request(server.port, '/status', { headers: { authorization: 'Bearer t' } });
      await sleep(300);
    }
    // Locators, not waitForFunction: the page's CSP (left on, so violations show) forbids eval.
    await page.locator('svg circle.point[data-endpoint="/characters/:id"]').nth(2).waitFor({ timeout: 15_000 });
    const endpoints = await page.$$eval('svg circle.point', (circles) => [...new Set(circles.map((c) => c.getAttribute('data-endpoint')))]);
    expect(endpoints).toEqual(expect.arrayContaining(['/characters/:id', 'status', 'search']));
    // Entries are shown by the URL they answer, not by their hashed key.
    await page.locator('#largest', { hasText: 'GET /characters/8' }).waitFor();
    await page.locator('#hot', { hasText: 'GET /status' }).waitFor();
    expect(await page.textContent('#largest')).not.toMatch(/[0-9a-f]{40}/);
    expect(await page.textContent('#endpoints')).toContain('/characters/:id');
    expect(await page.textContent('#health')).toContain('healthy');

    expect((await listEntries(cache.store, cache.namespacePrefix, 100))?.filter((e) => e.key.startsWith('api:/characters/:id:'))).toHaveLength(8);
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(statSync(SCREENSHOT).size).toBeGreaterThan(10_000);

    await page.selectOption('#kind', 'pattern');
    await page.fill('#value', 'api:/characters/:id:*');
    await page.click('#invalidate button');
    await page.locator('#result', { hasText: /removed \d+ entr/ }).waitFor();
    expect(await page.textContent('#result')).toBe('removed 8 entries');
    expect((await listEntries(cache.store, cache.namespacePrefix, 100))?.filter((e) => e.key.startsWith('api:/characters/:id:'))).toHaveLength(0);
    expect((await request(server.port, '/characters/1')).headers['x-cache']).toBe('MISS');
    // Other endpoints' entries stayed.
    expect((await request(server.port, '/status')).headers['x-cache']).toBe('HIT');
    expect(consoleErrors).toEqual([]);

    // Signing out ends the session: the page is the sign-in form again.
    await Promise.all([page.waitForURL(`${base}/_cache/login`), page.click('#sign-out')]);
    expect((await context.cookies()).filter((c) => c.name === 'cache_dashboard_session')).toEqual([]);
    expect((await page.goto(`${base}/_cache/`))?.status()).toBe(401);
    await context.close();
  });

  it('a page on another origin cannot invalidate, even in a signed-in browser', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const base = `http://127.0.0.1:${server.port}`;
    await page.goto(`${base}/_cache/login`);
    await page.fill('#token', TOKEN);
    await Promise.all([page.waitForURL(`${base}/_cache/`), page.click('#sign-in button')]);
    await request(server.port, '/status');
    // localhost is another origin (and another site) than 127.0.0.1: a form posted from there.
    const other = await listen(express().get('/', (_req, res) => void res.type('html').send(`<form id="f" method="post" action="${base}/_cache/invalidate"><input name="kind" value="pattern"><input name="value" value="*"><button id="go">win a prize</button></form>`)));
    try {
      await page.goto(`http://localhost:${other.port}/`);
      const [response] = await Promise.all([page.waitForResponse(`${base}/_cache/invalidate`), page.click('#go')]);
      expect(response.status()).toBe(403);
      expect((await request(server.port, '/status')).headers['x-cache']).toBe('HIT');
    } finally {
      await other.close();
      await context.close();
    }
  });

  it('without a sign-in the browser gets the sign-in form, and the API says 401', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const response = await page.goto(`http://127.0.0.1:${server.port}/_cache/`);
    expect(response?.status()).toBe(401);
    expect(await page.isVisible('#sign-in #token')).toBe(true);
    expect((await page.goto(`http://127.0.0.1:${server.port}/_cache/stats.json`))?.status()).toBe(401);
    await context.close();
  });
});
