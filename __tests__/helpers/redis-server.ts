import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const HOW_TO_GET_IT = 'redis-server not found: install it with `apt-get install -y redis-server` (Debian/Ubuntu) or put it on PATH';

function which(binary: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${binary}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Finds `redis-server`; as root on a Debian-like machine it installs Debian's package when
 * missing, otherwise it fails with one line saying how to get it.
 */
export function findRedisServer(): string {
  const found = which('redis-server');
  if (found) return found;
  if (process.getuid?.() === 0 && which('apt-get')) {
    process.stderr.write('redis-server missing: installing Debian package redis-server...\n');
    execFileSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const installed = which('redis-server');
    if (installed) return installed;
  }
  throw new Error(HOW_TO_GET_IT);
}

/** A free TCP port on loopback (never 6379: the OS picks from the ephemeral range). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

/** A redis-server this process started, and how to reach and stop it. */
export interface RedisServer {
  port: number;
  url: string;
  pid: number;
  /** Stops the server (SIGKILL after a grace period) and removes its working directory. */
  stop(): Promise<void>;
}

/**
 * Starts a throwaway redis-server on a free loopback port, with persistence off, and waits until
 * it answers PING. Pass `port` to restart one on the same port.
 */
export async function startRedisServer(options: { port?: number; args?: string[] } = {}): Promise<RedisServer> {
  // A free port can be taken by another test worker between finding it and binding it: a server
  // that exits at once on a port we chose gets another port, up to three times.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options.port ?? (await freePort()), options.args ?? []);
    } catch (error) {
      if (options.port !== undefined || attempt >= 3 || !(error instanceof ExitedEarly)) throw error;
    }
  }
}

class ExitedEarly extends Error {}

async function startOnce(port: number, args: string[]): Promise<RedisServer> {
  const binary = findRedisServer();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cache-kit-redis-'));
  const child: ChildProcess = spawn(
    binary,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--loglevel', 'warning', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  // redis-server logs to stdout: both are kept for the error message.
  let stderr = '';
  child.stdout?.on('data', (data: Buffer) => (stderr += data.toString()));
  child.stderr?.on('data', (data: Buffer) => (stderr += data.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 10_000;
  while (!(await ping(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      const message = `redis-server did not start on port ${port}: ${stderr.trim() || 'no output'}`;
      throw child.exitCode !== null ? new ExitedEarly(message) : new Error(message);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    pid: child.pid as number,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
