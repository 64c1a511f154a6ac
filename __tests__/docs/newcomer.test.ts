// A newcomer's first hour, as a test: `npm pack` (which builds through `prepack`), then an offline
// `npm install` of the tarball into a new strict ESM TypeScript app (Express 5) and a new
// CommonJS app (Express 4), which run every code block of README.md unchanged: each ```ts block
// compiled and run in the first, each ```js block run in the second, and the decorator blocks
// compiled and run in the second once more with legacy decorators. Offline: the package's
// dependencies are packed from this project's node_modules and installed next to it, so nothing
// is fetched. Express, ioredis, the types and TypeScript are linked from this project's
// node_modules after the install. The runner is the one of the docs test (snippets.ts).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { testRedisUrl } from '../helpers/redis';
import {
  LEGACY_APP_OPTIONS,
  ROOT,
  STRICT_APP_OPTIONS,
  compileErrors,
  diagnosticsBySnippet,
  extractSnippets,
  runSnippet,
  snippetFileName,
  tsc,
  usesDecorators,
  writeRunners,
} from './snippets';

/** Runs npm; returns stdout, or stdout and stderr together with `both` (npm warns on stderr). */
function npm(args: string[], cwd: string, both = false): string {
  const run = spawnSync('npm', [...args, '--no-audit', '--no-fund', '--no-update-notifier'], { cwd, encoding: 'utf8', env: { ...process.env, npm_config_loglevel: 'warn' } });
  if (run.status !== 0) throw new Error(`npm ${args.join(' ')} failed (${String(run.status)}):\n${run.stdout}\n${run.stderr}`);
  return both ? `${run.stdout}\n${run.stderr}` : run.stdout;
}

const snippets = extractSnippets(join(ROOT, 'README.md'));
let dir = '';
let app = '';
let cjs = '';
let tarball = '';
let installOutput = '';
let esmDiagnostics = new Map<string, string[]>();
let cjsDiagnostics = new Map<string, string[]>();

/** A new app in `<dir>/<name>` with the tarball installed and the given packages linked in. */
function newApp(name: string, type: 'module' | 'commonjs', tarballs: string[], links: Record<string, string>): { path: string; output: string } {
  const path = join(dir, name);
  mkdirSync(path);
  writeFileSync(join(path, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true, type }, null, 2));
  // Peers (express, @types/express) come from the links below, so npm must not fetch them.
  const output = npm(['install', '--offline', '--legacy-peer-deps', ...tarballs], path, true);
  for (const [linked, source] of Object.entries(links)) {
    const target = join(path, 'node_modules', linked);
    mkdirSync(dirname(target), { recursive: true });
    if (!existsSync(target)) symlinkSync(join(ROOT, 'node_modules', source), target, 'dir');
  }
  writeRunners(path);
  mkdirSync(join(path, 'src'));
  return { path, output };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'express-cache-kit-pack-'));
  const packs = join(dir, 'packs');
  mkdirSync(packs);
  // --json keeps npm's file listing out of the way; prepack builds dist/ first.
  const packed = JSON.parse(npm(['pack', '--json', '--pack-destination', packs], ROOT)) as Array<{ filename: string; files: Array<{ path: string }> }>;
  const first = packed[0];
  if (!first) throw new Error('npm pack returned nothing');
  tarball = join(packs, first.filename);
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  for (const dep of Object.keys(pkg.dependencies)) {
    npm(['pack', '--ignore-scripts', '--pack-destination', packs, join(ROOT, 'node_modules', dep)], ROOT);
  }
  const tarballs = readdirSync(packs).map((f) => join(packs, f));
  const tools = { '@types/express': '@types/express', '@types/node': '@types/node', typescript: 'typescript', ioredis: 'ioredis' };
  const esm = newApp('esm-app', 'module', tarballs, { express: 'express', ...tools });
  app = esm.path;
  installOutput = esm.output;
  cjs = newApp('cjs-app', 'commonjs', tarballs, { express: 'express4', ...tools }).path;

  const tsconfig = (options: object): string => JSON.stringify({ compilerOptions: { ...options, rootDir: 'src', outDir: 'out' }, include: ['src'] }, null, 2);
  // `export {}` makes every ts block a module (top-level await, no global leaks between blocks).
  for (const snippet of snippets.filter((s) => s.lang === 'ts')) writeFileSync(join(app, 'src', snippetFileName(snippet)), `${snippet.code}\nexport {};\n`);
  writeFileSync(join(app, 'tsconfig.json'), tsconfig(STRICT_APP_OPTIONS));
  esmDiagnostics = diagnosticsBySnippet(tsc(app, join(app, 'node_modules', 'typescript', 'bin', 'tsc')), snippets);
  mkdirSync(join(cjs, 'out'));
  for (const snippet of snippets) {
    if (snippet.lang === 'js') writeFileSync(join(cjs, 'out', snippetFileName(snippet)), snippet.code);
    else if (usesDecorators(snippet)) writeFileSync(join(cjs, 'src', snippetFileName(snippet)), `${snippet.code}\nexport {};\n`);
  }
  writeFileSync(join(cjs, 'tsconfig.json'), tsconfig(LEGACY_APP_OPTIONS));
  cjsDiagnostics = snippets.some(usesDecorators) ? diagnosticsBySnippet(tsc(cjs, join(cjs, 'node_modules', 'typescript', 'bin', 'tsc')), snippets) : new Map();
}, 240_000);

afterAll(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

test('the tarball holds dist, the LICENSE and the docs, and no source maps pointing at missing sources', () => {
  const listing = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n');
  expect(listing).toEqual(expect.arrayContaining(['package/LICENSE', 'package/README.md', 'package/dist/index.js', 'package/dist/index.d.ts']));
  expect(listing.filter((f) => f.endsWith('.map'))).toEqual([]);
  expect(listing.filter((f) => f.startsWith('package/lib/'))).toEqual([]);
});

test('the installed package.json has no install-time scripts and names its repository', () => {
  const installed = JSON.parse(readFileSync(join(app, 'node_modules', 'express-cache-kit', 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
    repository?: unknown;
    homepage?: unknown;
    bugs?: unknown;
    license?: string;
  };
  for (const script of ['preinstall', 'install', 'postinstall', 'prepare']) expect(installed.scripts[script]).toBeUndefined();
  expect(installed).toMatchObject({ license: 'MIT', repository: expect.anything(), homepage: expect.any(String), bugs: expect.anything() });
});

test('npm install of the tarball prints no warning about express-cache-kit', () => {
  const ours = installOutput.split('\n').filter((line) => /warn/i.test(line) && /express-cache-kit/.test(line));
  expect(ours).toEqual([]);
});

test('the README shows ESM TypeScript and CommonJS blocks, and CommonJS blocks never await at the top level', () => {
  expect(snippets.filter((s) => s.lang === 'ts').length).toBeGreaterThan(3);
  expect(snippets.filter((s) => s.lang === 'js').length).toBeGreaterThan(1);
  expect(snippets.filter((s) => s.lang === 'ts' && !/from 'express-cache-kit'/.test(s.code))).toEqual([]);
  expect(snippets.filter((s) => s.lang === 'js' && !/require\('express-cache-kit'\)/.test(s.code))).toEqual([]);
  expect([...(esmDiagnostics.get('tsc') ?? []), ...(cjsDiagnostics.get('tsc') ?? [])]).toEqual([]);
});

describe.each(snippets.map((s) => [s.where, s] as const))('%s', (where, snippet) => {
  if (snippet.lang === 'ts') {
    test('compiles unchanged in a new strict ESM TypeScript app (Express 5 types)', () => {
      const error = compileErrors(where, esmDiagnostics);
      if (error) throw new Error(error);
    });
  }
  if (usesDecorators(snippet)) {
    test('compiles unchanged in a new CommonJS TypeScript app with legacy decorators', () => {
      const error = compileErrors(where, cjsDiagnostics);
      if (error) throw new Error(error);
    });
  }
  const run = snippet.compileOnly === undefined ? test : test.skip;
  run(snippet.lang === 'ts' ? 'runs as ESM on Express 5, ends, and prints no warning' : 'runs as CommonJS on Express 4, ends, and prints no warning', async () => {
    const env = { REDIS_URL: testRedisUrl() };
    const name = snippetFileName(snippet);
    if (snippet.lang === 'js') {
      await runSnippet(where, cjs, join(cjs, 'out', name), 'cjs', env);
      return;
    }
    if ((esmDiagnostics.get(where) ?? []).length > 0) throw new Error(`the block at ${where} does not compile, so it was not run`);
    await runSnippet(where, app, join(app, 'out', name.replace(/\.ts$/, '.js')), 'esm', env);
    if (usesDecorators(snippet)) await runSnippet(`${where} (CommonJS, legacy decorators)`, cjs, join(cjs, 'out', name.replace(/\.ts$/, '.js')), 'cjs', env);
  }, 45_000);
});

test('the package loads by name from ESM and from CommonJS', () => {
  const loaded = execFileSync(process.execPath, ['--input-type=module', '-e', "import { cacheResponse, createCache } from 'express-cache-kit'; console.log(typeof cacheResponse, typeof createCache);"], { cwd: app, encoding: 'utf8' });
  expect(loaded.trim()).toBe('function function');
  const required = execFileSync(process.execPath, ['-e', "const kit = require('express-cache-kit'); console.log(typeof kit.cacheResponse, typeof kit.MemoryStore);"], { cwd: cjs, encoding: 'utf8' });
  expect(required.trim()).toBe('function function');
});

test('importing the package defines Symbol.metadata only; reflect-metadata loads with the first decorator', () => {
  const script = [
    "const kit = await import('express-cache-kit');",
    "const before = typeof Reflect.getMetadata;",
    "kit.Cacheable({ ttl: '5m' });",
    "console.log(before, typeof Reflect.getMetadata, typeof Symbol.metadata);",
  ].join(' ');
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: app, encoding: 'utf8' });
  expect(out.trim()).toBe('undefined function symbol');
});
