// README snippets as tests: every ```ts block of README.md and bench/README.md is extracted,
// type-checked under `strict` with Express 5's types against the built package, and run. See
// readme.test.ts. Failure messages name the README line, so a broken snippet is found at once.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

export const ROOT = join(__dirname, '..', '..');

/** One ```ts block: where it is, its code, and whether it is run or only compiled. */
export interface Snippet {
  /** `README.md:26`: the file and the line of the block's first code line. */
  where: string;
  file: string;
  line: number;
  code: string;
  /** Set by `<!-- snippet: compile-only (reason) -->` on the line before the fence. */
  compileOnly: string | undefined;
}

const MARKER = /^<!--\s*snippet:\s*compile-only\s*\((.+)\)\s*-->\s*$/;

/** Every ```ts / ```typescript block of a Markdown file. */
export function extractSnippets(markdownPath: string): Snippet[] {
  const file = relative(ROOT, markdownPath);
  const lines = readFileSync(markdownPath, 'utf8').split('\n');
  const snippets: Snippet[] = [];
  for (let i = 0; i < lines.length; i += 1) {
    if (!/^```(ts|typescript)\s*$/.test(lines[i] ?? '')) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !/^```\s*$/.test(lines[end] ?? '')) end += 1;
    if (end === lines.length) throw new Error(`${file}:${i + 1}: unterminated code block`);
    const marker = MARKER.exec(lines[i - 1] ?? '');
    // Line numbers are 1-based: the block's first code line is line start + 1.
    snippets.push({ where: `${file}:${start + 1}`, file, line: start + 1, code: lines.slice(start, end).join('\n'), compileOnly: marker?.[1] });
    i = end;
  }
  return snippets;
}

/** The name of a snippet's source file in the build, e.g. `README.md-L26.ts`. */
export function snippetFileName(snippet: Snippet): string {
  return `${snippet.file.replace(/[/\\]/g, '_')}-L${snippet.line}.ts`;
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

/**
 * Builds the package (`dist` as it would be packed) into `<work>/node_modules/express-cache-kit`,
 * so snippets import it by name the way a user does.
 */
export function installBuiltPackage(work: string): void {
  const pkg = join(work, 'node_modules', 'express-cache-kit');
  mkdirSync(pkg, { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(pkg, 'package.json'));
  execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(pkg, 'dist')], {
    stdio: 'pipe',
  });
}

/** A clean working directory under node_modules/.cache (so `express`, `ioredis`... resolve). */
export function freshWorkDir(name: string): string {
  const work = join(ROOT, 'node_modules', '.cache', name);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  writeFileSync(join(work, 'package.json'), JSON.stringify({ name, private: true, type: 'module' }));
  return work;
}

/** A tsc diagnostic line `src/x.ts(3,7): error TS...` rewritten to name the README line. */
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
