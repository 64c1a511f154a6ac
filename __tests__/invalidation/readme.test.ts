import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Express } from 'express';
import request from 'supertest';
import ts from 'typescript';
import { type Cache, cacheResponse, configureCache, invalidateAfter, invalidateCharacterCache } from '../../lib';
import { EXPRESS_VERSIONS } from '../helpers/apps';
import { STORE_KINDS, closeStoreClients } from '../helpers/stores';

afterAll(closeStoreClients);

const MARKER = '<!-- tested: __tests__/invalidation/readme.test.ts runs this block as it is -->';

/**
 * The README's invalidation loop, exactly as printed, minus its import lines (given as
 * parameters) and its `app.listen` (supertest serves the app), with its TypeScript types
 * stripped (`invalidateAfter<{ id: string }>`). It brings its own stand-in data layer.
 */
function readmeLoop(): string {
  const readme = readFileSync(path.join(__dirname, '../../README.md'), 'utf8');
  const at = readme.indexOf(MARKER);
  if (at === -1) throw new Error('the README lost its tested invalidation block');
  const block = /```ts\n([\s\S]*?)```/.exec(readme.slice(at));
  if (!block?.[1]) throw new Error('no ts block after the marker');
  const code = block[1]
    .split('\n')
    .filter((line) => !line.startsWith('import ') && !line.startsWith('app.listen('))
    .join('\n');
  return ts.transpileModule(code, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.None } }).outputText;
}

async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe.each(STORE_KINDS)("the README's invalidation loop on $name", (kind) => {
  test.each(EXPRESS_VERSIONS)('runs as printed and ends in MISS with the new row ($name)', async (version) => {
    const cache: Cache = configureCache({ store: kind.make(), namespace: `readme-${Math.random().toString(36).slice(2)}` });
    // The Express module itself (express.json included) of this major.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const expressModule: unknown = version.name === 'Express 4' ? require('express4') : require('express');
    const build = new Function('express', 'cacheResponse', 'invalidateAfter', 'invalidateCharacterCache', `${readmeLoop()}\nreturn app;`) as (
      ...deps: unknown[]
    ) => Express;
    const app = build(expressModule, cacheResponse, invalidateAfter, invalidateCharacterCache);
    const get = async (id: string): Promise<string> => {
      const res = await request(app).get(`/characters/${id}`);
      return `${res.status} ${String(res.headers['x-cache'])} ${JSON.stringify(res.body)}`;
    };

    expect(await get('1')).toBe('200 MISS {"name":"Ada"}');
    expect(await get('1')).toBe('200 HIT {"name":"Ada"}');
    expect(await get('2')).toBe('200 MISS {"name":"Grace"}');
    expect((await request(app).post('/characters/1').send({ name: 'Ada Lovelace' })).status).toBe(204);
    expect(await get('1')).toBe('200 MISS {"name":"Ada Lovelace"}');
    expect(await get('2')).toBe('200 HIT {"name":"Grace"}');

    expect((await request(app).put('/characters/2').send({ name: 'Grace Hopper' })).status).toBe(204);
    await eventually(async () => (await get('2')) === '200 MISS {"name":"Grace Hopper"}', 'the PUT to invalidate /characters/2');
    expect(await get('1')).toBe('200 HIT {"name":"Ada Lovelace"}');
    await cache.close();
  });
});
