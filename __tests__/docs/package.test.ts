// The package as a user gets it: `npm pack` (which builds through `prepack`), then an offline
// `npm install` of the tarball into a new strict TypeScript app, which must compile the README's
// quick start unchanged. Offline: the package's dependencies are packed from this project's
// node_modules and installed next to it, so nothing is fetched. Express, its types and
// TypeScript are linked from this project's node_modules after the install.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ROOT, STRICT_APP_OPTIONS, extractSnippets } from './snippets';

/** Runs npm; returns stdout, or stdout and stderr together with `both` (npm warns on stderr). */
function npm(args: string[], cwd: string, both = false): string {
  const run = spawnSync('npm', [...args, '--no-audit', '--no-fund', '--no-update-notifier'], { cwd, encoding: 'utf8', env: { ...process.env, npm_config_loglevel: 'warn' } });
  if (run.status !== 0) throw new Error(`npm ${args.join(' ')} failed (${String(run.status)}):\n${run.stdout}\n${run.stderr}`);
  return both ? `${run.stdout}\n${run.stderr}` : run.stdout;
}

let dir = '';
let app = '';
let tarball = '';
let installOutput = '';

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
  app = join(dir, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'new-app', version: '1.0.0', private: true, type: 'module' }, null, 2));
  const tarballs = readdirSync(packs).map((f) => join(packs, f));
  // Peers (express, @types/express) come from the links below, so npm must not fetch them.
  installOutput = npm(['install', '--offline', '--legacy-peer-deps', ...tarballs], app, true);
  for (const linked of ['express', '@types/express', '@types/node', 'typescript']) {
    const target = join(app, 'node_modules', linked);
    mkdirSync(dirname(target), { recursive: true });
    if (!existsSync(target)) symlinkSync(join(ROOT, 'node_modules', linked), target, 'dir');
  }
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

test("the README's quick start compiles unchanged in a new strict TypeScript app", () => {
  const quickStart = extractSnippets(join(ROOT, 'README.md'))[0];
  if (!quickStart) throw new Error('README.md has no TypeScript block');
  expect(quickStart.code).toMatch(/from 'express-cache-kit'/);
  writeFileSync(join(app, 'index.ts'), quickStart.code);
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions: { ...STRICT_APP_OPTIONS, outDir: 'dist' }, include: ['index.ts'] }, null, 2));
  let output = '';
  try {
    execFileSync(process.execPath, [join(app, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', app], { cwd: app, encoding: 'utf8', stdio: 'pipe' });
  } catch (error) {
    output = String((error as { stdout?: string }).stdout ?? error);
  }
  const located = output.replace(/^index\.ts\((\d+),(\d+)\)/gm, (_m, row: string, col: string) => `${quickStart.file}:${quickStart.line + Number(row) - 1}:${col}`);
  expect(located).toBe('');
  // And it runs as ESM from the compiled output: the package's named exports resolve.
  const loaded = execFileSync(process.execPath, ['--input-type=module', '-e', "import { cacheResponse, createCache } from 'express-cache-kit'; console.log(typeof cacheResponse, typeof createCache);"], { cwd: app, encoding: 'utf8' });
  expect(loaded.trim()).toBe('function function');
  // And from plain CommonJS JavaScript.
  const required = execFileSync(process.execPath, ['-e', "const kit = require('express-cache-kit'); console.log(typeof kit.cacheResponse, typeof kit.MemoryStore);"], { cwd: app, encoding: 'utf8' });
  expect(required.trim()).toBe('function function');
}, 120_000);

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
