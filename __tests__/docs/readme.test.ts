// Every TypeScript block of README.md and bench/README.md is part of the suite: extracted,
// type-checked under strict + noUncheckedIndexedAccess + exactOptionalPropertyTypes with
// Express 5's types against the built package (imported by name, as ESM), then run in a child
// process of its own. A block marked `<!-- snippet: compile-only (why) -->` is only compiled.
// Blocks may use the globals of preamble.ts.txt ("your app": app, db, handlers); everything
// from express-cache-kit they import themselves.
//
// A run must end by itself (a script that hangs, e.g. an unclosed RedisStore, fails), print no
// process warning, and, when it mounted routes on `app`, answer each route (twice for GET)
// without a 5xx; then the runner stops it (a server does not end by itself).
import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { testRedisUrl } from '../helpers/redis';
import { ROOT, STRICT_APP_OPTIONS, type Snippet, diagnosticsBySnippet, extractSnippets, freshWorkDir, installBuiltPackage, snippetFileName } from './snippets';

const RUNNER = `
import { once } from 'node:events';
await import('./preamble.js');
// Listening before the block runs, so its routes are requested the moment it has finished:
// a block that leaves something unready (a Redis connection) shows it on the first request.
const server = app.listen(0, '127.0.0.1');
await once(server, 'listening');
await import(process.argv[2]);
const router = app.router ?? app._router;
const routes = (router?.stack ?? []).filter((layer) => layer.route).map((layer) => layer.route);
if (routes.length === 0) server.close();
else {
  const { port } = server.address();
  let failed = false;
  for (const route of routes) {
    const path = String(route.path).replace(/:\\w+/g, 'char_1');
    for (const method of Object.keys(route.methods)) {
      for (let i = 0; i < (method === 'get' ? 2 : 1); i += 1) {
        const res = await fetch('http://127.0.0.1:' + port + path, { method: method.toUpperCase() });
        await res.arrayBuffer();
        console.log(method.toUpperCase(), path, res.status, res.headers.get('x-cache'));
        if (res.status >= 500) failed = true;
      }
    }
  }
  // Work after the response (store writes, invalidateAfter) gets a moment to report problems.
  await new Promise((resolve) => setTimeout(resolve, 300));
  process.exit(failed ? 1 : 0);
}
`;

const snippets: Snippet[] = [...extractSnippets(join(ROOT, 'README.md')), ...extractSnippets(join(ROOT, 'bench', 'README.md'))];
let work = '';
let diagnostics = new Map<string, string[]>();

beforeAll(() => {
  work = freshWorkDir('readme-snippets');
  installBuiltPackage(work);
  mkdirSync(join(work, 'src'));
  copyFileSync(join(__dirname, 'preamble.ts.txt'), join(work, 'src', 'preamble.ts'));
  // `export {}` makes every block a module (top-level await, no global leaks between blocks).
  for (const snippet of snippets) writeFileSync(join(work, 'src', snippetFileName(snippet)), `${snippet.code}\nexport {};\n`);
  writeFileSync(join(work, 'src', 'run.mjs'), RUNNER);
  writeFileSync(join(work, 'tsconfig.json'), JSON.stringify({ compilerOptions: { ...STRICT_APP_OPTIONS, rootDir: 'src', outDir: 'out' }, include: ['src'] }));
  let output = '';
  try {
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', work], { cwd: work, stdio: 'pipe' });
  } catch (error) {
    output = String((error as { stdout?: Buffer }).stdout ?? error);
  }
  diagnostics = diagnosticsBySnippet(output, snippets);
  copyFileSync(join(work, 'src', 'run.mjs'), join(work, 'out', 'run.mjs'));
}, 120_000);

test('the READMEs have TypeScript blocks to check', () => {
  expect(snippets.length).toBeGreaterThan(10);
});

test('the preamble compiles', () => {
  expect([...(diagnostics.get('preamble.ts') ?? []), ...(diagnostics.get('tsc') ?? [])]).toEqual([]);
});

describe.each(snippets.map((s) => [s.where, s] as const))('%s', (where, snippet) => {
  test('compiles under strict with Express 5 types', () => {
    const errors = diagnostics.get(where) ?? [];
    if (errors.length > 0) throw new Error(`the block at ${where} does not compile:\n${errors.join('\n')}`);
    // tsc reports only syntax errors while any file has one, so the others were not type-checked.
    const syntax = [...diagnostics.entries()].filter(([, lines]) => lines.some((line) => /error TS1\d{3}:/.test(line))).map(([at]) => at);
    if (syntax.length > 0) throw new Error(`the block at ${where} was not type-checked: tsc stops at the syntax errors of ${syntax.join(', ')}`);
  });

  const run = snippet.compileOnly === undefined ? test : test.skip;
  run('runs, ends, and prints no warning', async () => {
    if ((diagnostics.get(where) ?? []).length > 0) throw new Error(`the block at ${where} does not compile, so it was not run`);
    const file = join(work, 'out', snippetFileName(snippet).replace(/\.ts$/, '.js'));
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(process.execPath, [join(work, 'out', 'run.mjs'), file], {
        cwd: work,
        timeout: 20_000,
        // CACHE_DASHBOARD_TOKEN: set, as in an app that mounts the dashboard (unset, the dashboard
        // stays locked and warns once, by design).
        env: { ...process.env, REDIS_URL: testRedisUrl(), CACHE_DASHBOARD_TOKEN: 'a-dashboard-token-for-readme-blocks', NODE_OPTIONS: '' },
      }, (error, out, err) => resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stdout: out, stderr: err }));
      void child;
    });
    const report = `the block at ${where} (run as ${file}):\nexit code ${String(code)}\nstdout:\n${stdout}\nstderr:\n${stderr}`;
    if (code !== 0) throw new Error(`${report}\n(a block that never ends is killed after 20 s: close what it opens, e.g. await cache.close())`);
    if (/Warning/.test(stderr)) throw new Error(`${report}\n(a process warning was printed)`);
  }, 30_000);
});
