// What a reader of the README, the docs pages and the examples meets: a short guide whose links
// work where the package is read (npm shows README.md without the repository around it),
// examples that can be copied into an app, and no words that only mean something to us.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT, extractSnippets } from './snippets';

const read = (file: string): string => readFileSync(join(ROOT, file), 'utf8');
const readme = read('README.md');
const pkg = JSON.parse(read('package.json')) as { homepage: string; repository: { url: string } };
/** https://github.com/owner/name, from package.json's repository. */
const repository = pkg.repository.url.replace(/^git\+/, '').replace(/\.git$/, '');

function filesUnder(dir: string, ext: RegExp): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && ext.test(entry.name))
    .map((entry) => relative(ROOT, join(entry.parentPath, entry.name)))
    .sort();
}

const docs = filesUnder('docs', /\.md$/);
const examples = filesUnder('examples', /\.[cm]?[jt]s$/);

test('the README is a short guide', () => {
  expect(readme.split('\n').length).toBeLessThan(400);
  // The two commands, and how long the second one takes.
  expect(readme).toContain('npm install && npm run demo');
  expect(readme).toMatch(/npm test\s+# the test suite: about \d+–\d+ minutes/);
});

test('every link of the README works on npm: absolute, or an anchor of the README itself', () => {
  const links = [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1] ?? '');
  expect(links.length).toBeGreaterThan(10);
  expect(links.filter((link) => !/^(https?:\/\/|#)/.test(link))).toEqual([]);
  // Files of this repository are linked on its default branch.
  const ours = links.filter((link) => link.startsWith(repository));
  expect(ours.filter((link) => !/^https:\/\/github\.com\/[^/]+\/[^/]+(\/(blob|tree)\/main\/|#|$)/.test(link))).toEqual([]);
  expect(links.filter((link) => link.startsWith('https://raw.githubusercontent.com/') && !link.includes(repository.replace('https://github.com/', '')))).toEqual([]);
  expect(pkg.homepage.startsWith(repository)).toBe(true);
});

test('the docs pages the README links to are in docs/', () => {
  const linked = [...readme.matchAll(/\/blob\/main\/(docs\/[\w-]+\.md)/g)].map((m) => m[1] ?? '');
  const ownPages = ['configuration', 'invalidation', 'observability', 'queries-and-decorators', 'resilience', 'stores'].map((p) => `docs/${p}.md`);
  for (const page of ownPages) {
    expect(linked).toContain(page);
    expect(docs).toContain(page);
  }
});

test('the README, the docs pages and the examples use no internal words', () => {
  // "seed 003", "issue 13": names of the project's own planning, meaningless to a reader.
  const internal = /\bseeds?\b|\bissues? #?\d+/i;
  const offending = ['README.md', ...docs, ...examples].flatMap((file) =>
    read(file)
      .split('\n')
      .map((line, i) => [`${file}:${i + 1}`, line] as const)
      .filter(([, line]) => internal.test(line))
      .map(([at, line]) => `${at}: ${line.trim()}`),
  );
  expect(offending).toEqual([]);
});

test('the examples import the package by name, never its sources or the test helpers', () => {
  expect(examples.length).toBeGreaterThan(3);
  const offending = examples.filter((file) => /from '(\.\.\/)+(lib|__tests__)\b|require\('(\.\.\/)+(lib|__tests__)\b/.test(read(file)));
  expect(offending).toEqual([]);
  expect(examples.filter((file) => read(file).includes("from 'express-cache-kit'")).length).toBeGreaterThan(3);
});

test('the README names in an install line every package its blocks import, and the @types package of each that needs one', () => {
  const blocks = extractSnippets(join(ROOT, 'README.md'));
  const imported = new Set(
    blocks.flatMap((block) => [...block.code.matchAll(/(?:from |require\()'([^']+)'/g)].map((m) => m[1] ?? '')).filter((spec) => !spec.startsWith('node:') && !spec.startsWith('.')),
  );
  const packageOf = (spec: string): string => spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/');
  const installs = readme.split('\n').filter((line) => /npm install\b/.test(line)).join('\n');
  const missing: string[] = [];
  for (const name of new Set([...imported].map(packageOf))) {
    if (!new RegExp(`npm install[^\\n]*\\s${name.replace('/', '\\/')}(@|\\s|\`|$)`, 'm').test(installs)) missing.push(name);
    if (name === 'express-cache-kit') continue; // its types are in the package
    const manifest = JSON.parse(read(join('node_modules', name, 'package.json'))) as { types?: string; typings?: string };
    const typed = manifest.types !== undefined || manifest.typings !== undefined || existsSync(join(ROOT, 'node_modules', name, 'index.d.ts'));
    if (!typed && !installs.includes(`@types/${name}`)) missing.push(`@types/${name}`);
  }
  expect(imported.size).toBeGreaterThanOrEqual(2);
  expect(missing).toEqual([]);
});
