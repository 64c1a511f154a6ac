// Code blocks as tests: every ```ts and ```js block of README.md, docs/*.md and bench/README.md is
// extracted, compiled (TypeScript under `strict` with Express 5's types, against the package as
// a user gets it) and run in a child process of its own. A block stands on its own: it imports
// or defines every name it uses (no hidden preamble). Failure messages name the Markdown line.
//
// ```ts blocks are ES modules (top-level await allowed); ```js blocks are CommonJS JavaScript
// (`require`, no top-level await). TypeScript blocks with decorators are also compiled as
// CommonJS with legacy decorators, the way NestJS apps build them.
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

export const ROOT = join(__dirname, '..', '..');

/** One code block: where it is, its code, and whether it is run or only compiled. */
export interface Snippet {
  /** `README.md:26`: the file and the line of the block's first code line. */
  where: string;
  file: string;
  line: number;
  code: string;
  /** `ts`: an ES module in TypeScript; `js`: CommonJS JavaScript. */
  lang: 'ts' | 'js';
  /** Set by `<!-- snippet: compile-only (reason) -->` on the line before the fence. */
  compileOnly: string | undefined;
}

const MARKER = /^<!--\s*snippet:\s*compile-only\s*\((.+)\)\s*-->\s*$/;
const FENCE = /^```(ts|typescript|js|javascript)\s*$/;

/** Every ```ts / ```js block of a Markdown file. */
export function extractSnippets(markdownPath: string): Snippet[] {
  const file = relative(ROOT, markdownPath);
  const lines = readFileSync(markdownPath, 'utf8').split('\n');
  const snippets: Snippet[] = [];
  for (let i = 0; i < lines.length; i += 1) {
    const fence = FENCE.exec(lines[i] ?? '');
    if (!fence) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !/^```\s*$/.test(lines[end] ?? '')) end += 1;
    if (end === lines.length) throw new Error(`${file}:${i + 1}: unterminated code block`);
    const marker = MARKER.exec(lines[i - 1] ?? '');
    const lang = fence[1] === 'js' || fence[1] === 'javascript' ? 'js' : 'ts';
    // Line numbers are 1-based: the block's first code line is line start + 1.
    snippets.push({ where: `${file}:${start + 1}`, file, line: start + 1, code: lines.slice(start, end).join('\n'), lang, compileOnly: marker?.[1] });
    i = end;
  }
  return snippets;
}

/** The Markdown files whose blocks the docs tests check besides README.md. */
export function docPages(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => join(ROOT, 'docs', f));
  return [...docs, join(ROOT, 'bench', 'README.md')];
}

/** The name of a snippet's source file, e.g. `README.md-L26.ts` (`.cjs` for a js block). */
export function snippetFileName(snippet: Snippet): string {
  return `${snippet.file.replace(/[/\\]/g, '_')}-L${snippet.line}.${snippet.lang === 'js' ? 'cjs' : 'ts'}`;
}

/** Whether a TypeScript block is also built as CommonJS with legacy decorators. */
export function usesDecorators(snippet: Snippet): boolean {
  return snippet.lang === 'ts' && /^\s*@\w+\(/m.test(snippet.code);
}

/** Compiler options of the snippet build: what a careful new project would use. */
export const STRICT_APP_OPTIONS = {
  target: 'ES2022',
  module: 'NodeNext',
  moduleResolution: 'NodeNext',
  strict: true,
  noUncheckedIndexedAccess: true,
  exactOptionalPropertyTypes: true,
  // What `tsc --init` sets; without it the package's .d.ts needs ioredis' types installed.
  skipLibCheck: true,
  types: ['node'],
  esModuleInterop: true,
};

/** The same for a CommonJS app with legacy decorators (NestJS' settings). */
export const LEGACY_APP_OPTIONS = { ...STRICT_APP_OPTIONS, experimentalDecorators: true, emitDecoratorMetadata: true };

/**
 * Preloaded (`--require`) into every run. It changes nothing a block does except where its
 * servers listen (a free loopback port, whatever the block asked for), and once the block has
 * loaded and a server listens, it requests each route of that server's Express app (GET twice),
 * prints what came back and ends the process: exit 1 on a 5xx. A block without a server must end
 * by itself.
 */
export const HOOK = String.raw`
const http = require('node:http');
const { once } = require('node:events');
let markLoaded;
const loaded = new Promise((resolve) => { markLoaded = resolve; });
globalThis.__snippetLoaded = () => markLoaded();
let exercising = false;
const listen = http.Server.prototype.listen;
http.Server.prototype.listen = function (...args) {
  const callback = args.find((arg) => typeof arg === 'function');
  const server = listen.call(this, 0, '127.0.0.1', callback);
  once(server, 'listening').then(() => loaded).then(() => exercise(server)).catch((error) => {
    console.error(error);
    process.exit(1);
  });
  return server;
};
async function exercise(server) {
  if (exercising) return;
  exercising = true;
  const app = server.listeners('request')[0];
  // Express 4's app.router is a getter that throws; its router is app._router.
  const router = app && (app._router !== undefined ? app._router : app.router);
  const routes = ((router && router.stack) || []).filter((layer) => layer.route).map((layer) => layer.route);
  const { port } = server.address();
  let failed = false;
  for (const route of routes) {
    const path = String(route.path).replace(/:\w+/g, '1');
    for (const method of Object.keys(route.methods)) {
      if (method === '_all') continue;
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

/** Entry point of an ES-module run: the hook is preloaded, then the block is imported. */
export const ESM_RUNNER = `await import(process.argv[2]);\nglobalThis.__snippetLoaded();\n`;
/** Entry point of a CommonJS run. */
export const CJS_RUNNER = `require(process.argv[2]);\nglobalThis.__snippetLoaded();\n`;

/** Writes hook.cjs, run.mjs and run.cjs into `dir`. */
export function writeRunners(dir: string): void {
  writeFileSync(join(dir, 'hook.cjs'), HOOK);
  writeFileSync(join(dir, 'run.mjs'), ESM_RUNNER);
  writeFileSync(join(dir, 'run.cjs'), CJS_RUNNER);
}

/** Runs tsc on a project directory; returns its diagnostics ('' when clean). */
export function tsc(project: string, tscPath = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')): string {
  try {
    execFileSync(process.execPath, [tscPath, '-p', project], { cwd: project.endsWith('.json') ? dirname(project) : project, stdio: 'pipe' });
    return '';
  } catch (error) {
    return String((error as { stdout?: Buffer }).stdout ?? error);
  }
}

/**
 * Runs one compiled block (`file`) with the runner of its module kind in `dir`; rejects with a
 * report naming the block when it fails, hangs (20 s) or prints a process warning.
 */
export async function runSnippet(where: string, dir: string, file: string, kind: 'esm' | 'cjs', env: NodeJS.ProcessEnv): Promise<void> {
  const runner = join(dir, kind === 'esm' ? 'run.mjs' : 'run.cjs');
  const { code, stdout, stderr } = await new Promise<{ code: number | string | null; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, ['--require', join(dir, 'hook.cjs'), runner, file], { cwd: dir, timeout: 20_000, env: { ...process.env, NODE_OPTIONS: '', ...env } }, (error, out, err) =>
      resolve({ code: error ? ((error as { code?: number | string }).code ?? error.signal ?? null) : 0, stdout: out, stderr: err }),
    );
  });
  const report = `the block at ${where} (run as ${file}):\nexit code ${String(code)}\nstdout:\n${stdout}\nstderr:\n${stderr}`;
  if (code !== 0) throw new Error(`${report}\n(a block that never ends is killed after 20 s: close what it opens, e.g. await cache.close())`);
  if (/Warning/.test(stderr)) throw new Error(`${report}\n(a process warning was printed)`);
}

/** A tsc diagnostic line `src/x.ts(3,7): error TS...` rewritten to name the Markdown line. */
export function diagnosticsBySnippet(output: string, snippets: readonly Snippet[]): Map<string, string[]> {
  const byFile = new Map(snippets.map((s) => [snippetFileName(s), s] as const));
  const found = new Map<string, string[]>();
  let current: string | undefined;
  for (const line of output.split('\n')) {
    const match = /^(?:src[/\\])?([^()]+)\((\d+),(\d+)\): (.*)$/.exec(line);
    if (match) {
      const [, file = '', row = '0', col = '0', message = ''] = match;
      const snippet = byFile.get(file);
      current = snippet?.where ?? file;
      const at = snippet ? `${snippet.file}:${snippet.line + Number(row) - 1}:${col}` : `${file}:${row}:${col}`;
      found.set(current, [...(found.get(current) ?? []), `${at}: ${message}`]);
    } else if (current !== undefined && line.startsWith(' ')) {
      const list = found.get(current) ?? [];
      list.push(line);
    } else if (line.trim() !== '') {
      current = 'tsc';
      found.set('tsc', [...(found.get('tsc') ?? []), line]);
    }
  }
  return found;
}

/** The errors of a block, and a complaint when tsc stopped at another block's syntax error. */
export function compileErrors(where: string, diagnostics: Map<string, string[]>): string | undefined {
  const errors = diagnostics.get(where) ?? [];
  if (errors.length > 0) return `the block at ${where} does not compile:\n${errors.join('\n')}`;
  // tsc reports only syntax errors while any file has one, so the others were not type-checked.
  const syntax = [...diagnostics.entries()].filter(([, lines]) => lines.some((line) => /error TS1\d{3}:/.test(line))).map(([at]) => at);
  if (syntax.length > 0) return `the block at ${where} was not type-checked: tsc stops at the syntax errors of ${syntax.join(', ')}`;
  return undefined;
}
