import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';

/** Where each kind of process runs: the app server alone on one core, everything else on the other. */
export type Role = 'server' | 'load';

const ROOT = path.resolve(__dirname, '..', '..');

/**
 * The CPU each role is pinned to, or `undefined` when pinning is not possible here (no
 * `taskset`, one core, or an affinity mask that refuses CPU 1).
 */
export function detectPinning(): Record<Role, string> | undefined {
  if (os.cpus().length < 2) return undefined;
  try {
    execFileSync('taskset', ['-c', '1', 'true'], { stdio: 'ignore' });
    execFileSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  return { server: '0', load: '1' };
}

/** Options of {@link ProcessGroup.run}. */
export interface RunOptions {
  role: Role;
  env?: NodeJS.ProcessEnv;
  /** Killed (SIGKILL) after this long; the promise rejects. */
  timeoutMs: number;
}

/**
 * Every process the benchmark starts goes through here, so that one place can kill them all:
 * on normal exit, on an error, on SIGINT/SIGTERM, and (via the `exit` hook) when the runner dies
 * of an uncaught exception.
 */
export class ProcessGroup {
  private readonly children = new Set<ChildProcess>();
  private readonly extraPids = new Set<number>();

  constructor(readonly pinning: Record<Role, string> | undefined) {
    process.on('exit', () => this.killAll());
  }

  /**
   * Adopts a process started elsewhere (the redis-server) so it is killed with the rest. A tiny
   * reaper process holding a pipe to this one kills it too if the runner itself is SIGKILLed.
   */
  adopt(pid: number, role: Role): void {
    this.extraPids.add(pid);
    const reaper = spawn(
      process.execPath,
      ['-e', `process.stdin.on('end', () => { try { process.kill(${pid}, 'SIGKILL'); } catch {} process.exit(0); }); process.stdin.resume();`],
      { stdio: ['pipe', 'ignore', 'ignore'] },
    );
    reaper.stdin?.on('error', () => undefined);
    this.children.add(reaper);
    reaper.once('exit', () => this.children.delete(reaper));
    if (this.pinning) {
      try {
        execFileSync('taskset', ['-a', '-p', '-c', this.pinning[role], String(pid)], { stdio: 'ignore' });
      } catch {
        // Pinning is best effort; the README says what it means when it is missing.
      }
    }
  }

  /** Forgets an adopted pid once its owner has stopped it. */
  release(pid: number): void {
    this.extraPids.delete(pid);
  }

  /** Starts `node [nodeArgs] script args` (TypeScript through tsx), pinned to the role's CPU. */
  spawnNode(script: string, args: string[], role: Role, env: NodeJS.ProcessEnv = {}, nodeArgs: string[] = []): ChildProcess {
    const command = [process.execPath, ...nodeArgs, ...(script.endsWith('.ts') ? ['--import', 'tsx'] : []), path.resolve(ROOT, script), ...args];
    const [file, ...argv] = this.pinning ? ['taskset', '-c', this.pinning[role], ...command] : command;
    const child = spawn(file as string, argv, {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    // Children exit when this pipe closes, even if the runner is SIGKILLed.
    child.stdin?.on('error', () => undefined);
    return child;
  }

  /** Runs a script to completion and returns its stdout; rejects on a non-zero exit or timeout. */
  async run(script: string, args: string[], options: RunOptions, nodeArgs: string[] = []): Promise<string> {
    const child = this.spawnNode(script, args, options.role, options.env, nodeArgs);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (data: Buffer) => (stdout += data.toString()));
    child.stderr?.on('data', (data: Buffer) => (stderr += data.toString()));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${script} ${args.join(' ')} took longer than ${options.timeoutMs} ms`));
      }, options.timeoutMs);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolve(stdout);
        else reject(new Error(`${script} ${args.join(' ')} exited with ${code ?? signal}: ${stderr.trim().slice(-2_000)}`));
      });
    });
  }

  /**
   * Starts a long-running child that prints one JSON line when it is ready, and resolves with
   * that line parsed. Rejects if it exits or stays silent for `timeoutMs`.
   */
  async startService<T>(script: string, args: string[], role: Role, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ child: ChildProcess; ready: T }> {
    const child = this.spawnNode(script, args, role, env);
    let stderr = '';
    child.stderr?.on('data', (data: Buffer) => (stderr += data.toString()));
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    const ready = await new Promise<T>((resolve, reject) => {
      const fail = (why: string): void => {
        clearTimeout(timer);
        child.kill('SIGKILL');
        reject(new Error(`${script} ${args.join(' ')} ${why}: ${stderr.trim().slice(-2_000)}`));
      };
      const timer = setTimeout(() => fail(`was not ready after ${timeoutMs} ms`), timeoutMs);
      child.once('exit', (code, signal) => fail(`exited with ${code ?? signal} before it was ready`));
      lines.once('line', (line) => {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        try {
          resolve(JSON.parse(line) as T);
        } catch {
          reject(new Error(`${script} printed "${line}" instead of its ready line`));
        }
      });
    });
    return { child, ready };
  }

  /** Stops one child: closes its stdin, then SIGKILL if it is still there after a grace period. */
  async stop(child: ChildProcess, graceMs = 2_000): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.stdin?.end();
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }

  /** Kills everything still running, synchronously (safe inside an `exit` handler). */
  killAll(): void {
    for (const child of this.children) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    for (const pid of this.extraPids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    this.extraPids.clear();
  }
}
