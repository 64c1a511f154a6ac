/**
 * Runs the HTTP caching conformance suite (http-tests/cache-tests, the suite behind
 * cache-tests.fyi) against `cacheResponse` mounted in front of a reverse proxy to the suite's
 * origin server, everything on loopback, and prints pass/fail per group and the required-test
 * totals.
 *
 *   npm run conformance                     # following the origin's headers (ttl: 'origin')
 *   npm run conformance -- --mode=defaults  # cacheResponse() defaults (route TTL 60 s)
 *   npm run conformance -- --store=redis --redis=redis://127.0.0.1:PORT
 *   npm run conformance -- --json=out.json  # also write the raw results
 *   npm run conformance -- --ignore-dependencies  # judge every test on its own, as if what it depends on passed
 *   npm run conformance -- --min-required=145     # exit 1 when fewer required tests pass (CI)
 *
 * The suite is copied from CACHE_TESTS_DIR (default: ../shared/cache-tests beside the repo,
 * read-only) or, when that folder does not exist, fetched from the npm registry
 * (`npm pack http-cache-tests`), into a temporary folder where `npm ci` installs it; the
 * folder is removed at the end. The registry's release is older than the suite's repository
 * (its engine at the top level rather than under `test-engine/`, fewer tests): both layouts
 * run, and the first line printed says which suite was used.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import express from 'express';
import { Redis } from 'ioredis';
import { type CacheResponseOptions, MemoryStore, RedisStore, cacheResponse, createCache } from '../lib';

const args = new Map(
  process.argv.slice(2).map((arg) => {
    const [name = '', value = 'true'] = arg.replace(/^--/, '').split('=');
    return [name, value] as const;
  }),
);
const mode = args.get('mode') ?? 'origin';
const minRequired = args.get('min-required');
if (minRequired !== undefined && !/^\d+$/.test(minRequired)) throw new Error(`--min-required=${minRequired}: give a whole number of required tests`);
const storeKind = args.get('store') ?? 'memory';

// Every status the middleware accepts in `statuses` (1xx, 204 and 304 are never stored; 206 is served from full answers).
const ALL_STATUSES = Array.from({ length: 400 }, (_, i) => i + 200).filter((status) => status !== 204 && status !== 206 && status !== 304);

const MODES: Record<string, CacheResponseOptions> = {
  // Stale answers may stand in when the origin is unreachable (RFC 9111 §4.2.4), never when
  // the answer said must-revalidate, proxy-revalidate, no-cache or s-maxage.
  // The suite tests the cache as the edge, so this cache reads CDN-Cache-Control (RFC 9213) here.
  origin: { ttl: 'origin', statuses: ALL_STATUSES, honorNoCache: true, staleIfError: '1h', cacheControlField: 'CDN-Cache-Control' },
  defaults: {},
};

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = http.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** An installed copy of the suite: its folder, where its engine is, and where it came from. */
interface PreparedSuite {
  dir: string;
  /** The folder holding `cli.mjs`, `server/` and `lib/`: `test-engine/` in the repository, the top in the npm release. */
  engine: string;
  /** The module exporting `determineTestResult`: `lib/results.mjs` in the repository, `lib/display.mjs` in the npm release. */
  results: string;
  source: string;
}

/** A copy of the suite in a temporary folder, installed. */
function prepareSuite(): PreparedSuite {
  const dir = mkdtempSync(path.join(tmpdir(), 'cache-tests-'));
  const local = process.env.CACHE_TESTS_DIR ?? path.resolve(__dirname, '../../shared/cache-tests');
  let source: string;
  if (existsSync(path.join(local, 'tests'))) {
    cpSync(local, dir, { recursive: true });
    source = local;
  } else {
    execFileSync('npm', ['pack', 'http-cache-tests', '--silent', '--pack-destination', dir], { stdio: 'ignore' });
    const tarball = readdirSync(dir).find((name) => name.endsWith('.tgz'));
    if (tarball === undefined) throw new Error('npm pack http-cache-tests produced no tarball');
    execFileSync('tar', ['-xzf', tarball, '--strip-components=1'], { cwd: dir });
    rmSync(path.join(dir, tarball));
    source = `npm http-cache-tests@${(JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version?: string }).version ?? '?'}`;
  }
  execFileSync('npm', [existsSync(path.join(dir, 'package-lock.json')) ? 'ci' : 'install', '--omit=dev', '--no-audit', '--no-fund', '--silent'], { cwd: dir, stdio: 'ignore' });
  // The origin server listens on every interface; this keeps it on loopback.
  writeFileSync(
    path.join(dir, 'loopback.mjs'),
    `import http from 'node:http';
const listen = http.Server.prototype.listen;
http.Server.prototype.listen = function (port, ...rest) {
  if (typeof port === 'number' || typeof port === 'string') return listen.call(this, Number(port), '127.0.0.1', ...rest.filter((a) => typeof a === 'function'));
  return listen.call(this, port, ...rest);
};
`,
  );
  const engine = existsSync(path.join(dir, 'test-engine', 'cli.mjs')) ? path.join(dir, 'test-engine') : dir;
  const results = ['results.mjs', 'display.mjs'].map((name) => path.join(engine, 'lib', name)).find((file) => existsSync(file));
  if (!existsSync(path.join(engine, 'cli.mjs')) || !existsSync(path.join(engine, 'server', 'server.mjs')) || results === undefined) {
    throw new Error(`${source}: no cli.mjs, server/server.mjs and lib/results.mjs (or lib/display.mjs), a layout this script does not know`);
  }
  return { dir, engine, results, source };
}

function startOrigin({ dir, engine }: PreparedSuite, port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', pathToFileURL(path.join(dir, 'loopback.mjs')).href, path.join(engine, 'server', 'server.mjs')], {
    cwd: dir,
    env: { ...process.env, npm_config_protocol: 'http', npm_config_port: String(port), npm_config_pidfile: path.join(dir, 'server.pid') },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('Listening')) resolve(child);
    });
  });
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer']);
function connectionFields(value: string | undefined): Set<string> {
  return new Set((value ?? '').split(',').map((name) => name.trim().toLowerCase()).filter((name) => name !== ''));
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/** A minimal reverse proxy: the request as it arrived, to the origin; its answer, relayed as it is. */
function proxyTo(originPort: number): express.RequestHandler {
  return (req, res) => {
    const headers: http.OutgoingHttpHeaders = {};
    const listed = connectionFields(req.headers.connection);
    for (const [name, value] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(name) && !listed.has(name)) headers[name] = value;
    headers.host = `127.0.0.1:${originPort}`;
    const upstream = http.request({ host: '127.0.0.1', port: originPort, method: req.method, path: req.originalUrl, headers, agent }, (answer) => {
      res.statusCode = answer.statusCode ?? 502;
      if (answer.statusMessage) res.statusMessage = answer.statusMessage;
      const raw = answer.rawHeaders;
      // RFC 9110 §7.6.1: a proxy drops the fields its hop's Connection header lists.
      const dropped = connectionFields(answer.headers.connection);
      const grouped = new Map<string, string[]>();
      for (let i = 0; i + 1 < raw.length; i += 2) {
        const name = (raw[i] as string).toLowerCase();
        if (HOP_BY_HOP.has(name) || dropped.has(name) || name === 'content-length') continue;
        grouped.set(raw[i] as string, [...(grouped.get(raw[i] as string) ?? []), raw[i + 1] as string]);
      }
      for (const [name, values] of grouped) res.setHeader(name, values.length === 1 ? (values[0] as string) : values);
      const chunks: Buffer[] = [];
      answer.on('data', (chunk: Buffer) => chunks.push(chunk));
      answer.on('end', () => {
        const body = Buffer.concat(chunks);
        if (req.method === 'HEAD' || res.statusCode === 304 || res.statusCode === 204) res.end();
        else res.end(body);
      });
    });
    upstream.on('error', () => {
      if (!res.headersSent) res.status(502);
      res.end();
    });
    req.pipe(upstream);
  };
}

/**
 * What the engine's `determineTestResult` returns: one of its `resultTypes`, an [icon, colour,
 * symbol] triple. Both releases share the symbols, so results are told apart by those.
 */
type ResultType = readonly [string, string, string];
/** `pass` and `yes` (a passing check). */
const PASSED = new Set(['✅', 'Y']);
const FAILED = '⛔️';

interface Suite {
  name: string;
  id: string;
  tests: Array<{ id: string; kind?: string }>;
}

async function main(): Promise<void> {
  const options = MODES[mode];
  if (options === undefined) throw new Error(`unknown --mode=${mode}; use ${Object.keys(MODES).join(' or ')}`);
  const prepared = prepareSuite();
  const { dir, engine } = prepared;
  let origin: ChildProcess | undefined;
  let server: http.Server | undefined;
  let redis: Redis | undefined;
  try {
    const originPort = await freePort();
    origin = await startOrigin(prepared, originPort);
    if (storeKind === 'redis') {
      const url = args.get('redis');
      if (url === undefined) throw new Error('--store=redis needs --redis=redis://127.0.0.1:PORT (a server of your own, not 6379)');
      redis = new Redis(url);
    }
    const cache = createCache({ store: redis ? new RedisStore({ client: redis }) : new MemoryStore(), namespace: `conformance:${process.pid}:` });
    const app = express();
    app.set('etag', false);
    app.set('x-powered-by', false);
    app.use(cacheResponse({ cache, ...options }));
    app.use(proxyTo(originPort));
    server = http.createServer(app);
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const cachePort = (server.address() as AddressInfo).port;

    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['--no-warnings', path.join(engine, 'cli.mjs')], {
        cwd: dir,
        env: { ...process.env, npm_config_base: `http://127.0.0.1:${cachePort}`, npm_config_id: '', npm_package_config_id: '' },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const out: Buffer[] = [];
      child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
      child.on('error', reject);
      child.on('close', () => resolve(Buffer.concat(out).toString()));
    });
    const results = JSON.parse(output.slice(output.indexOf('{'))) as Record<string, unknown>;
    if (args.has('json')) writeFileSync(args.get('json') as string, JSON.stringify(results, null, 2));

    const suites = (await import(pathToFileURL(path.join(dir, 'tests/index.mjs')).href)) as { default: Suite[] };
    const { determineTestResult } = (await import(pathToFileURL(prepared.results).href)) as {
      determineTestResult(suites: Suite[], id: string, results: Record<string, unknown>, honorDependencies: boolean): ResultType;
    };
    let passed = 0;
    let failed = 0;
    let total = 0;
    const failures: string[] = [];
    console.log(`cacheResponse (${mode}, ${storeKind}) against cache-tests (${prepared.source}): required tests per group`);
    for (const suite of suites.default) {
      let groupPassed = 0;
      let groupFailed = 0;
      let groupOther = 0;
      for (const test of suite.tests) {
        if (test.kind !== undefined && test.kind !== 'required') continue;
        total++;
        const result = determineTestResult(suites.default, test.id, results, !args.has('ignore-dependencies'));
        if (PASSED.has(result[2])) groupPassed++;
        else if (result[2] === FAILED) {
          groupFailed++;
          failures.push(`${suite.id}: ${test.id}`);
        } else {
          groupOther++;
          failures.push(`${suite.id}: ${test.id} (${result[2]})`);
        }
      }
      passed += groupPassed;
      failed += groupFailed;
      if (groupPassed + groupFailed + groupOther > 0) console.log(`  ${suite.name.padEnd(48)} pass ${String(groupPassed).padStart(3)}  fail ${String(groupFailed).padStart(3)}  other ${groupOther}`);
    }
    console.log(`required: ${passed} passed, ${failed} failed, ${total - passed - failed} not run (dependency or setup) of ${total}`);
    if (args.has('verbose')) for (const failure of failures) console.log(`  not passed: ${failure}`);
    if (minRequired !== undefined && passed < Number(minRequired)) {
      console.log(`fewer than ${minRequired} required tests passed`);
      process.exitCode = 1;
    }
    await cache.close();
  } finally {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server?.closeAllConnections();
    agent.destroy();
    await redis?.quit().catch(() => undefined);
    origin?.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
