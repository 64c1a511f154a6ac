import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './redis-server';

const HOW_TO_GET_IT =
  'PostgreSQL not found (no initdb under `pg_config --bindir` or /usr/lib/postgresql/*/bin): install it with `apt-get install -y postgresql` (Debian/Ubuntu)';

function run(file: string, args: string[]): string {
  return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function which(binary: string): string | undefined {
  try {
    return run('sh', ['-c', `command -v ${binary}`]).trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * The directory holding `initdb`, `pg_ctl` and `postgres`. Debian keeps them off the PATH, and
 * `pg_config --bindir` may name the client package's directory rather than the server's, so the
 * versioned server directories are tried too (newest first).
 */
function findBinDir(): string | undefined {
  const candidates: string[] = [];
  const pgConfig = which('pg_config');
  if (pgConfig) {
    try {
      candidates.push(run(pgConfig, ['--bindir']).trim());
    } catch {
      // A broken pg_config only removes one candidate.
    }
  }
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
    for (const version of versions) candidates.push(path.join(root, version, 'bin'));
  }
  const initdb = which('initdb');
  if (initdb) candidates.push(path.dirname(initdb));
  return candidates.find((dir) => existsSync(path.join(dir, 'initdb')) && existsSync(path.join(dir, 'pg_ctl')));
}

/**
 * Finds PostgreSQL's server binaries; as root on a Debian-like machine it installs Debian's
 * `postgresql` package when missing, otherwise it fails with one line saying how to get it.
 */
export function findPostgresBinDir(): string {
  const found = findBinDir();
  if (found) return found;
  if (process.getuid?.() === 0 && which('apt-get')) {
    process.stderr.write('PostgreSQL missing: installing Debian package postgresql...\n');
    execFileSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const installed = findBinDir();
    if (installed) return installed;
  }
  throw new Error(HOW_TO_GET_IT);
}

/** A PostgreSQL server this process started, and how to reach, freeze and stop it. */
export interface PostgresServer {
  port: number;
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (trust authentication, loopback only). */
  url: string;
  /** The postmaster's pid (for SIGSTOP/SIGCONT in tests that freeze the server). */
  pid: number;
  /** SIGSTOPs the postmaster and every backend: connections stay open but nothing answers. */
  freeze(): void;
  /** SIGCONTs what {@link PostgresServer.freeze} stopped. */
  thaw(): void;
  /** Stops the server immediately (no checkpoint) and removes its data directory. */
  stop(): Promise<void>;
}

/**
 * Starts a throwaway PostgreSQL: `initdb` into a temp dir, then `pg_ctl start` on a free loopback
 * port (never 5432) with `fsync=off` and the unix socket inside the temp dir. `initdb` refuses
 * to run as root, so as root both run as the package's `postgres` user on a directory it owns.
 */
export async function startPostgresServer(options: { port?: number } = {}): Promise<PostgresServer> {
  const bin = findPostgresBinDir();
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cache-kit-pg-'));
  const data = path.join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  const exec = (binary: string, args: string[]): string => {
    const file = path.join(bin, binary);
    return asRoot ? run('runuser', ['-u', 'postgres', '--', file, ...args]) : run(file, args);
  };
  if (asRoot) {
    const uid = Number(run('id', ['-u', 'postgres']).trim());
    const gid = Number(run('id', ['-g', 'postgres']).trim());
    chownSync(dir, uid, gid);
  }
  const settings = [
    `-p ${port}`,
    '-c listen_addresses=127.0.0.1',
    `-c unix_socket_directories=${dir}`,
    '-c fsync=off',
    '-c synchronous_commit=off',
    '-c full_page_writes=off',
    '-c max_connections=200',
  ].join(' ');
  try {
    exec('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions']);
    exec('pg_ctl', ['start', '-D', data, '-w', '-t', '30', '-l', path.join(dir, 'server.log'), '-o', settings]);
  } catch (err) {
    const log = existsSync(path.join(dir, 'server.log')) ? readFileSync(path.join(dir, 'server.log'), 'utf8').trim() : '';
    rmSync(dir, { recursive: true, force: true });
    const stderr = (err as { stderr?: string }).stderr ?? String(err);
    throw new Error(`PostgreSQL did not start on port ${port}: ${stderr.trim()} ${log}`);
  }
  const pid = Number(readFileSync(path.join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const family = (): number[] => {
    let children: number[] = [];
    try {
      children = run('pgrep', ['-P', String(pid)]).split('\n').filter(Boolean).map(Number);
    } catch {
      // pgrep exits 1 when there are no children.
    }
    return [pid, ...children];
  };
  const signal = (pids: number[], name: NodeJS.Signals): void => {
    for (const target of pids) {
      try {
        process.kill(target, name);
      } catch {
        // Exited meanwhile.
      }
    }
  };
  return {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    pid,
    freeze: () => signal(family(), 'SIGSTOP'),
    thaw: () => signal(family(), 'SIGCONT'),
    async stop() {
      // A frozen server ignores the shutdown request until it is thawed.
      signal(family(), 'SIGCONT');
      try {
        exec('pg_ctl', ['stop', '-D', data, '-m', 'immediate', '-w', '-t', '10']);
      } catch {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The URL of the run's shared PostgreSQL (started by the Jest global setup). */
export function testPostgresUrl(): string {
  const url = process.env.CACHE_KIT_TEST_POSTGRES_URL;
  if (!url) throw new Error('CACHE_KIT_TEST_POSTGRES_URL is not set: run the tests through `npm test`');
  return url;
}

let tables = 0;

/** A table name unique to this call, so test files sharing the run's server never meet. */
export function testPostgresTable(label = 't'): string {
  return `cache_${label}_${process.pid}_${++tables}_${Math.random().toString(36).slice(2, 8)}`;
}
