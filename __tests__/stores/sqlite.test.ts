import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteStore } from '../../lib';
import { runStoreContract } from './contract';

const dir = mkdtempSync(path.join(os.tmpdir(), 'cache-kit-sqlite-'));
let files = 0;
const freshPath = (): string => path.join(dir, `nested/dir/${++files}.db`);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

runStoreContract('SqliteStore (file)', async () => new SqliteStore({ path: freshPath() }));
runStoreContract('SqliteStore (:memory:)', async () => new SqliteStore({ path: ':memory:' }));
