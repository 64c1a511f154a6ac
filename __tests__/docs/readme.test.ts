// Every code block of the reference pages (docs/*.md) and of bench/README.md, compiled against the
// package built from lib/ (imported by name, as a user does) and run on its own: see snippets.ts.
// README.md's blocks go through the packed tarball instead (newcomer.test.ts).
//
// A run must end by itself (a script that hangs, e.g. an unclosed RedisStore, fails), print no
// process warning, and, when it starts a server, answer each of its routes (twice for GET)
// without a 5xx; then the runner stops it (a server does not end by itself).
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testRedisUrl } from '../helpers/redis';
import {
  LEGACY_APP_OPTIONS,
  ROOT,
  STRICT_APP_OPTIONS,
  type Snippet,
  compileErrors,
  diagnosticsBySnippet,
  docPages,
  extractSnippets,
  runSnippet,
  snippetFileName,
  tsc,
  usesDecorators,
  writeRunners,
} from './snippets';

const snippets: Snippet[] = docPages().flatMap((page) => extractSnippets(page));
let dir = '';
let app = '';
let diagnostics = new Map<string, string[]>();
let legacy = new Map<string, string[]>();

beforeAll(() => {
  // A temp dir whose parent node_modules is this project's, so express, ioredis... resolve.
  dir = mkdtempSync(join(tmpdir(), 'express-cache-kit-docs-'));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  app = join(dir, 'app');
  mkdirSync(join(app, 'src'), { recursive: true });
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'docs-app', private: true, type: 'module' }));
  const pkg = join(app, 'node_modules', 'express-cache-kit');
  mkdirSync(pkg, { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(pkg, 'package.json'));
  writeFileSync(join(dir, 'tsconfig.build.json'), JSON.stringify({ extends: join(ROOT, 'tsconfig.build.json'), compilerOptions: { rootDir: join(ROOT, 'lib'), outDir: join(pkg, 'dist') }, include: [join(ROOT, 'lib')] }));
  const build = tsc(join(dir, 'tsconfig.build.json'));
  if (build !== '') throw new Error(`the package does not build:\n${build}`);
  writeRunners(app);
  mkdirSync(join(app, 'out'));
  // `export {}` makes every ts block a module (top-level await, no global leaks between blocks).
  for (const snippet of snippets) {
    if (snippet.lang === 'ts') writeFileSync(join(app, 'src', snippetFileName(snippet)), `${snippet.code}\nexport {};\n`);
    else writeFileSync(join(app, 'out', snippetFileName(snippet)), snippet.code);
  }
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions: { ...STRICT_APP_OPTIONS, rootDir: 'src', outDir: 'out' }, include: ['src'] }));
  diagnostics = diagnosticsBySnippet(tsc(app), snippets);

  // Decorator blocks once more, as a CommonJS app with legacy decorators.
  const cjs = join(app, 'cjs');
  mkdirSync(join(cjs, 'src'), { recursive: true });
  writeFileSync(join(cjs, 'package.json'), JSON.stringify({ name: 'docs-app-cjs', private: true, type: 'commonjs' }));
  writeRunners(cjs);
  for (const snippet of snippets.filter(usesDecorators)) writeFileSync(join(cjs, 'src', snippetFileName(snippet)), `${snippet.code}\nexport {};\n`);
  writeFileSync(join(cjs, 'tsconfig.json'), JSON.stringify({ compilerOptions: { ...LEGACY_APP_OPTIONS, rootDir: 'src', outDir: 'out' }, include: ['src'] }));
  legacy = snippets.some(usesDecorators) ? diagnosticsBySnippet(tsc(cjs), snippets) : new Map();
}, 120_000);

afterAll(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

test('the reference pages have code blocks to check', () => {
  expect(snippets.length).toBeGreaterThan(10);
});

test('nothing outside the blocks fails to compile', () => {
  expect([...(diagnostics.get('tsc') ?? []), ...(legacy.get('tsc') ?? [])]).toEqual([]);
});

describe.each(snippets.map((s) => [s.where, s] as const))('%s', (where, snippet) => {
  if (snippet.lang === 'ts') {
    test('compiles under strict with Express 5 types', () => {
      const error = compileErrors(where, diagnostics);
      if (error) throw new Error(error);
    });
  }
  if (usesDecorators(snippet)) {
    test('compiles as CommonJS with legacy decorators (no top-level await)', () => {
      const error = compileErrors(where, legacy);
      if (error) throw new Error(error);
    });
  }

  const run = snippet.compileOnly === undefined ? test : test.skip;
  // CACHE_DASHBOARD_TOKEN: set, as in an app that mounts the dashboard (unset, the dashboard stays
  // locked and warns once, by design).
  const README_ENV = { REDIS_URL: testRedisUrl(), CACHE_DASHBOARD_TOKEN: 'a-dashboard-token-for-readme-blocks' };
  run('runs, ends, and prints no warning', async () => {
    if ((diagnostics.get(where) ?? []).length > 0) throw new Error(`the block at ${where} does not compile, so it was not run`);
    const name = snippetFileName(snippet);
    const file = join(app, 'out', snippet.lang === 'ts' ? name.replace(/\.ts$/, '.js') : name);
    await runSnippet(where, app, file, snippet.lang === 'ts' ? 'esm' : 'cjs', README_ENV);
    if (usesDecorators(snippet)) await runSnippet(`${where} (CommonJS, legacy decorators)`, join(app, 'cjs'), join(app, 'cjs', 'out', name.replace(/\.ts$/, '.js')), 'cjs', README_ENV);
  }, 45_000);
});
