import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as Lib from '../../lib';

/** The package's entry point as users get it: the compiled `dist/index.js` (`npm run build`). */
export const BUILT_ENTRY = path.join(__dirname, '..', '..', 'dist', 'index.js');

const load = createRequire(__filename);

/**
 * The library the benchmark apps run: the compiled package, as users run it, unless
 * `BENCH_LIB=source` asks for the TypeScript sources (through tsx, whose module wrappers turn
 * every call between modules into a getter call, a few µs more per request).
 */
export function libraryUnderTest(): typeof Lib {
  if (process.env.BENCH_LIB === 'source') return load('../../lib') as typeof Lib;
  if (!existsSync(BUILT_ENTRY)) throw new Error(`${BUILT_ENTRY} is missing: run \`npm run build\` first (or BENCH_LIB=source)`);
  return load(BUILT_ENTRY) as typeof Lib;
}
