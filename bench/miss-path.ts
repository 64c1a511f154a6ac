/**
 * The miss path's cost (issue 10, item 9), measured by server CPU time per request.
 *
 * `node --import tsx bench/miss-path.ts [rounds] [requests]` forks one server process with four
 * routes and drives them from this process over keep-alive loopback connections:
 *
 * - `bare`: `/bare?id=N` → `res.json(body)` (every request a new URL, like the miss);
 * - `miss`: `/item?id=N` behind `cacheResponse` + `MemoryStore` (every request a new key);
 * - `hit`: `/item` behind the same middleware (every request the same key);
 * - `buffer`: the precomputed-Buffer ceiling of the hit scenario;
 * - `floor`: `/floor?id=N`, the least a miss that stores its answer does, built from the
 *   library's own parts without the engine: the request key, the capture, `X-Cache`, the
 *   envelope and a `MemoryStore.set`. No single flight, lock, events, HTTP storability rules,
 *   tags or Vary handling: what `miss` costs beyond it is the engine's and the rules' share.
 *
 * The server reports its own `process.cpuUsage()` before and after each phase, so the client's
 * CPU never counts. Phases run interleaved and rotated, many short rounds; the table shows the
 * median and best (least CPU) round per phase and the ratios that issue 10 sets (miss ÷ bare,
 * buffer ÷ hit), per round (median) and over best rounds. On a shared machine interference only
 * adds CPU (cache misses, frequency), so best rounds are the closest to the cost alone.
 *
 * `node --import tsx bench/miss-path.ts profile [requests] [phase]` runs only one phase (misses by default) with the server
 * under `--cpu-prof` and prints where its time went: self time per function, and the inclusive
 * time of the middleware's and engine's own functions.
 */
import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import express, { type RequestHandler } from 'express';
import type * as Lib from '../lib';
import type * as Capture from '../lib/http/capture';
import type * as RequestKey from '../lib/http/request-key';
import type * as Serializer from '../lib/serializer';
import { benchBody } from './lib/body';

type Phase = 'bare' | 'floor' | 'miss' | 'hit' | 'buffer' | 'miss-before' | 'hit-before';
// MISS_PATH_BEFORE=<a compiled copy of an earlier build> adds its miss and hit to every round, so
// before and after are compared within one run (the only fair comparison on a shared machine).
const BEFORE = process.env.MISS_PATH_BEFORE;
const PHASES: readonly Phase[] = BEFORE ? ['bare', 'floor', 'miss', 'hit', 'buffer', 'miss-before', 'hit-before'] : ['bare', 'floor', 'miss', 'hit', 'buffer'];
const CONNECTIONS = 32;
// The library is loaded at run time: from the sources, the compiled package, or an earlier build.
const load = createRequire(__filename);
const PROFILE_DIR = path.join(os.tmpdir(), 'express-cache-kit-miss-path-profile');

type ToServer = { cpu: true } | { exit: true };

// ---------------------------------------------------------------------------------------------
// Server (child process)

function serve(): void {
  // MISS_PATH_LIB=dist measures the compiled package (`npm run build`) instead of the sources
  // under tsx, whose esbuild transform wraps every named closure in a `__name` call.
  const root = process.env.MISS_PATH_LIB === 'dist' ? '../dist' : '../lib';
  const lib = load(root) as typeof Lib;
  const { MemoryStore, cacheResponse, createCache } = lib;
  const { captureResponse } = load(`${root}/http/capture`) as typeof Capture;
  const { requestKeyer } = load(`${root}/http/request-key`) as typeof RequestKey;
  const { encodeEntry } = load(`${root}/serializer`) as typeof Serializer;
  const body = benchBody();
  const bytes = Buffer.from(JSON.stringify(body));
  const etag = `W/"${bytes.length.toString(16)}-${createHash('sha1').update(bytes).digest('base64').slice(0, 27)}"`;
  const cache = createCache({ store: new MemoryStore() });
  const origin: RequestHandler = (_req, res) => void res.json(body);
  // One Express app per family of routes: the capture routes an app's response prototype, so the
  // uncached routes, the floor and each build's routes must not share one.
  const appFor = (): ReturnType<typeof express> => express().set('env', 'production');
  const plain = appFor();
  plain.get('/bare', origin);
  plain.get('/buffer', (_req, res) => {
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('ETag', etag);
    res.setHeader('Content-Length', bytes.length);
    res.end(bytes);
  });
  const cached = appFor();
  cached.get('/item', cacheResponse({ cache, ttl: 300, keyPrefix: 'item' }), origin);
  const floorStore = new MemoryStore();
  const floorKey = requestKeyer({ ignoreQuery: undefined, maxKeyLength: 512, maxQueryLength: 4096, maxQueryParams: 128, keyByHost: true });
  const floor = appFor();
  floor.get(
    '/floor',
    (req, res, next) => {
      const keyed = floorKey(req, 'floor');
      captureResponse(res, 1 << 20, {
        onEnd: ({ status, headers, body: sent }) => {
          if (typeof keyed !== 'string' || sent === undefined) return;
          const now = Date.now();
          const entry = { kind: 'response', status, headers: headers as Record<string, string>, body: sent, createdAt: now, expiresAt: now + 300_000 } as const;
          void floorStore.set(keyed, encodeEntry(entry), 300_000);
        },
      });
      res.setHeader('X-Cache', 'MISS');
      next();
    },
    origin,
  );
  let before: { close(): Promise<void> } | undefined;
  const old = appFor();
  if (BEFORE) {
    const earlier = load(path.resolve(BEFORE)) as typeof Lib;
    const oldCache = earlier.createCache({ store: new earlier.MemoryStore() });
    before = oldCache;
    old.get('/before', earlier.cacheResponse({ cache: oldCache, ttl: 300, keyPrefix: 'item' }), origin);
  }
  const app = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const url = req.url ?? '';
    const target = url.startsWith('/item') ? cached : url.startsWith('/floor') ? floor : url.startsWith('/before') ? old : plain;
    target(req, res);
  };
  const server = http.createServer(app);
  server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
  process.on('message', (message: ToServer) => {
    if ('cpu' in message) {
      const cpu = process.cpuUsage();
      process.send?.({ cpu: cpu.user + cpu.system });
    } else {
      server.close();
      void Promise.all([cache.close(), before?.close()]).finally(() => process.exit(0));
    }
  });
  process.on('disconnect', () => process.exit(0));
}

// ---------------------------------------------------------------------------------------------
// Client (this process)

interface Child {
  port: number;
  cpu(): Promise<number>;
  stop(): Promise<void>;
}

function startServer(execArgv: string[]): Promise<Child> {
  const child = fork(__filename, ['serve'], { execArgv: ['--import', 'tsx', ...execArgv], env: { ...process.env, NODE_ENV: 'production' } });
  const next = <T>(pick: (message: Record<string, unknown>) => T | undefined): Promise<T> =>
    new Promise((resolve, reject) => {
      const onExit = (code: number | null): void => reject(new Error(`server exited (${String(code)})`));
      const onMessage = (message: Record<string, unknown>): void => {
        const value = pick(message);
        if (value === undefined) return;
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(value);
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  return next((m) => (typeof m.port === 'number' ? m.port : undefined)).then((port) => ({
    port,
    cpu: () => {
      const answer = next((m) => (typeof m.cpu === 'number' ? m.cpu : undefined));
      child.send({ cpu: true } satisfies ToServer);
      return answer;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.send({ exit: true } satisfies ToServer);
      }),
  }));
}

let unique = 0;

function pathOf(phase: Phase): string {
  switch (phase) {
    case 'bare':
      return `/bare?id=${unique++}`;
    case 'floor':
      return `/floor?id=${unique++}`;
    case 'miss':
      return `/item?id=${unique++}`;
    case 'hit':
      return '/item';
    case 'buffer':
      return '/buffer';
    case 'miss-before':
      return `/before?id=${unique++}`;
    case 'hit-before':
      return '/before';
  }
}

/** Sends `count` requests for `phase` over `CONNECTIONS` keep-alive connections; resolves server CPU µs per request. */
async function drive(child: Child, agent: http.Agent, phase: Phase, count: number, check = true): Promise<number> {
  const get = (urlPath: string): Promise<string | undefined> =>
    new Promise((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port: child.port, path: urlPath, agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.headers['x-cache'] as string | undefined));
        })
        .on('error', reject);
    });
  const before = await child.cpu();
  let sent = 0;
  let wrong = 0;
  const worker = async (): Promise<void> => {
    while (sent < count) {
      sent++;
      const xCache = await get(pathOf(phase));
      if (((phase.startsWith('miss') || phase === 'floor') && xCache !== 'MISS') || (phase.startsWith('hit') && xCache !== 'HIT')) wrong++;
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, worker));
  const used = (await child.cpu()) - before;
  if (check && wrong > 0) throw new Error(`${phase}: ${wrong} of ${count} answers had the wrong X-Cache`);
  return used / count;
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

async function measure(rounds: number, requests: number): Promise<void> {
  const child = await startServer([]);
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const load = (): string => os.loadavg().map((n) => n.toFixed(1)).join(' ');
  const loadStart = load();
  try {
    // Warm-up: JIT, the hit entry, the sockets.
    for (const phase of PHASES) await drive(child, agent, phase, requests, false);
    const runs = new Map<Phase, number[]>(PHASES.map((phase) => [phase, []]));
    for (let round = 0; round < rounds; round++) {
      const order = [...PHASES.slice(round % PHASES.length), ...PHASES.slice(0, round % PHASES.length)];
      for (const phase of order) runs.get(phase)?.push(await drive(child, agent, phase, requests));
    }
    const of = (phase: Phase): number[] => runs.get(phase) ?? [];
    const ratios = (a: Phase, b: Phase): number[] => of(a).map((value, i) => value / (of(b)[i] ?? Number.NaN));
    const lines = [
      `miss-path: ${rounds} rounds × ${requests} requests per phase, ${CONNECTIONS} connections; load average ${loadStart} → ${load()}`,
      '| phase | server CPU µs/request: median | best round |',
      '| --- | ---: | ---: |',
      ...PHASES.map((phase) => `| ${phase} | ${median(of(phase)).toFixed(1)} | ${Math.min(...of(phase)).toFixed(1)} |`),
      '',
      `miss ÷ bare (CPU): per round median ${median(ratios('miss', 'bare')).toFixed(2)}, best rounds ${(Math.min(...of('miss')) / Math.min(...of('bare'))).toFixed(2)}`,
      `floor ÷ bare (CPU): per round median ${median(ratios('floor', 'bare')).toFixed(2)}, best rounds ${(Math.min(...of('floor')) / Math.min(...of('bare'))).toFixed(2)}; miss ÷ floor per round median ${median(ratios('miss', 'floor')).toFixed(2)}`,
      `hit vs ceiling (buffer ÷ hit, CPU): per round median ${median(ratios('buffer', 'hit')).toFixed(2)}, best rounds ${(Math.min(...of('buffer')) / Math.min(...of('hit'))).toFixed(2)}`,
    ];
    if (BEFORE) {
      lines.push(
        `before (${BEFORE}): miss ÷ bare per round median ${median(ratios('miss-before', 'bare')).toFixed(2)}, best rounds ${(Math.min(...of('miss-before')) / Math.min(...of('bare'))).toFixed(2)}; buffer ÷ hit per round median ${median(ratios('buffer', 'hit-before')).toFixed(2)}, best rounds ${(Math.min(...of('buffer')) / Math.min(...of('hit-before'))).toFixed(2)}`,
        `after ÷ before: miss CPU per round median ${median(ratios('miss', 'miss-before')).toFixed(3)}, hit CPU per round median ${median(ratios('hit', 'hit-before')).toFixed(3)}`,
      );
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    agent.destroy();
    await child.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// Profile

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

async function profile(requests: number, phase: Phase): Promise<void> {
  rmSync(PROFILE_DIR, { recursive: true, force: true });
  mkdirSync(PROFILE_DIR, { recursive: true });
  const child = await startServer(['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`, '--cpu-prof-interval=100']);
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  try {
    await drive(child, agent, phase, requests, false);
  } finally {
    agent.destroy();
    await child.stop();
  }
  // tsx's loader thread writes a profile of its own; the main thread's is the one that was busy.
  const busy = (profile: { nodes: ProfileNode[] }): number =>
    profile.nodes.reduce((sum, node) => sum + (node.callFrame.functionName === '(idle)' ? 0 : (node.hitCount ?? 0)), 0);
  const profiles = readdirSync(PROFILE_DIR)
    .filter((name) => name.endsWith('.cpuprofile'))
    .map((name) => JSON.parse(readFileSync(path.join(PROFILE_DIR, name), 'utf8')) as { nodes: ProfileNode[] });
  const main = profiles.sort((a, b) => busy(b) - busy(a))[0];
  if (main === undefined) throw new Error('no profile written');
  const { nodes } = main;
  const byId = new Map(nodes.map((node) => [node.id, node]));
  const total = nodes.reduce((sum, node) => sum + (node.hitCount ?? 0), 0);
  const root = path.resolve(__dirname, '..');
  const name = (node: ProfileNode): string => {
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url.replace(/^file:\/\//, '').replace(`${root}/`, '');
    return `${functionName || '(anonymous)'} ${where ? `${where}:${lineNumber + 1}` : ''}`.trim();
  };
  const self = new Map<string, number>();
  for (const node of nodes) self.set(name(node), (self.get(name(node)) ?? 0) + (node.hitCount ?? 0));
  // Inclusive time of our own functions (each counted once per stack, recursion aside).
  const inclusive = new Map<string, number>();
  const walk = (id: number, onStack: Set<string>): number => {
    const node = byId.get(id) as ProfileNode;
    let sum = node.hitCount ?? 0;
    const label = name(node);
    const ours = (label.includes(' lib/') || label.includes(' dist/')) && !onStack.has(label);
    if (ours) onStack.add(label);
    for (const childId of node.children ?? []) sum += walk(childId, onStack);
    if (ours) {
      onStack.delete(label);
      inclusive.set(label, (inclusive.get(label) ?? 0) + sum);
    }
    return sum;
  };
  const rootNode = nodes[0];
  if (rootNode) walk(rootNode.id, new Set());
  const pct = (n: number): string => `${((100 * n) / total).toFixed(1)}%`;
  const top = (map: Map<string, number>, count: number): string[] =>
    [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, count).map(([label, n]) => `${pct(n).padStart(6)}  ${label}`);
  process.stdout.write(`${requests} requests (${phase}), ${total} samples (profiles in ${PROFILE_DIR})\n\nself time:\n${top(self, 40).join('\n')}\n\ninclusive (lib/):\n${top(inclusive, 40).join('\n')}\n`);
}

// ---------------------------------------------------------------------------------------------

const [mode, ...rest] = process.argv.slice(2);
if (mode === 'serve') serve();
else if (mode === 'profile') {
  profile(Number(rest[0] ?? 60_000), (rest[1] ?? 'miss') as Phase).catch((error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    process.exit(1);
  });
} else {
  measure(Number(mode ?? 15), Number(rest[0] ?? 3_000)).catch((error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    process.exit(1);
  });
}
