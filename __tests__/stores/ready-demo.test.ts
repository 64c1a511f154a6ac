import { execFile } from 'node:child_process';
import path from 'node:path';
import { freePort } from '../helpers/redis-server';

const ROOT = path.resolve(__dirname, '../..');

test('npm run demo:redis against a Redis that is not there says to set REDIS_URL (ready() resolves false, never rejects)', async () => {
  const port = await freePort();
  const run = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', path.join(ROOT, 'examples/redis/demo.ts')], { cwd: ROOT, timeout: 30_000, env: { ...process.env, REDIS_URL: `redis://127.0.0.1:${port}` } }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
  expect(run.code).toBe(1);
  expect(run.stderr).toBe(`cannot reach Redis at redis://127.0.0.1:${port} (ECONNREFUSED): set REDIS_URL to a running redis-server, e.g. REDIS_URL=redis://127.0.0.1:6379 npm run demo:redis\n`);
  expect(run.stdout).toBe('');
}, 60_000);
