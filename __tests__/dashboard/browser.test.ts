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

const SCREENSHOT = path.resolve(__dirname, '../../docs/dashboard.png');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describeBrowser('cacheDashboard in headless Chromium', () => {
  let browser: Browser;
  let cache: Cache;
  let server: Running;
  let dashboard: ReturnType<typeof cacheDashboard>;

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS, headless: true });
    cache = createCache({ store: new MemoryStore(), namespace: 'demo' });
    dashboard = cacheDashboard({ cache, authorize: (req) => req.get('x-admin-token') === 'secret', sampleIntervalMs: 250 });
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
  });

  it('draws hit rates after traffic, lists entries, and invalidates from the form', async () => {
    const context = await browser.newContext({ extraHTTPHeaders: { 'x-admin-token': 'secret' }, viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const consoleErrors: string[] = [];
    page.on('console', (message) => void (message.type() === 'error' && consoleErrors.push(message.text())));
    page.on('pageerror', (error) => void consoleErrors.push(error.message));
    const base = `http://127.0.0.1:${server.port}`;
    await page.goto(`${base}/_cache/`);
    await page.waitForSelector('#totals .stat');

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
    await page.locator('#largest', { hasText: 'api:/characters/:id:' }).waitFor();
    expect(await page.textContent('#endpoints')).toContain('/characters/:id');
    expect(await page.textContent('#health')).toContain('healthy');

    expect((await listEntries(cache.store, cache.namespace, 100))?.filter((e) => e.key.startsWith('api:/characters/:id:'))).toHaveLength(8);
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    await page.selectOption('#kind', 'pattern');
    await page.fill('#value', 'api:/characters/:id:*');
    await page.click('#invalidate button');
    await page.locator('#result', { hasText: /removed \d+ entr/ }).waitFor();
    expect(await page.textContent('#result')).toBe('removed 8 entries');
    expect((await listEntries(cache.store, cache.namespace, 100))?.filter((e) => e.key.startsWith('api:/characters/:id:'))).toHaveLength(0);
    expect((await request(server.port, '/characters/1')).headers['x-cache']).toBe('MISS');
    // Other endpoints' entries stayed.
    expect((await request(server.port, '/status')).headers['x-cache']).toBe('HIT');
    expect(consoleErrors).toEqual([]);
    await context.close();
  });

  it('is refused without the token, in the browser too', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const response = await page.goto(`http://127.0.0.1:${server.port}/_cache/`);
    expect(response?.status()).toBe(403);
    await context.close();
  });
});
