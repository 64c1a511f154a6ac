/**
 * The stampede's load generator: `node --import tsx bench/stampede-client.ts URL COUNT` opens
 * COUNT TCP connections first, and only once all are connected writes one GET on each in the same
 * tick, so the requests reach the server together rather than spread over connection set-up. It
 * prints latency percentiles (from the write to the end of the answer) as JSON.
 *
 * autocannon cannot send exactly N requests once (its connections send again as soon as they
 * are answered), which is why this exists.
 */
import net from 'node:net';

const CONNECT_TIMEOUT_MS = 15_000;
const REQUEST_TIMEOUT_MS = 30_000;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

function connect(port: number, host: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host });
    socket.setTimeout(CONNECT_TIMEOUT_MS, () => socket.destroy(new Error('connect timeout')));
    socket.once('connect', () => {
      socket.setTimeout(0);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Sends `request` on `socket` and resolves with the latency and status once the server closes it. */
function exchange(socket: net.Socket, request: string): Promise<{ ms: number; status: number }> {
  return new Promise((resolve) => {
    let head = '';
    const started = performance.now();
    socket.setTimeout(REQUEST_TIMEOUT_MS, () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      if (head.length < 16) head += chunk.toString('latin1', 0, 16);
    });
    socket.once('close', () => resolve({ ms: performance.now() - started, status: Number(head.slice(9, 12)) || 0 }));
    socket.once('error', () => undefined);
    socket.write(request);
  });
}

async function main(): Promise<void> {
  const [url, countText] = process.argv.slice(2);
  const count = Number(countText);
  if (!url || !Number.isInteger(count) || count <= 0 || count > 10_000) throw new Error('usage: stampede-client URL COUNT (1..10000)');
  const target = new URL(url);
  const request = `GET ${target.pathname}${target.search} HTTP/1.1\r\nHost: ${target.host}\r\nConnection: close\r\n\r\n`;
  const sockets = await Promise.all(Array.from({ length: count }, () => connect(Number(target.port), target.hostname)));
  const answers = await Promise.all(sockets.map((socket) => exchange(socket, request)));
  const latencies = answers.filter((a) => a.status === 200).map((a) => a.ms);
  latencies.sort((a, b) => a - b);
  const round = (ms: number): number => Math.round(ms * 10) / 10;
  process.stdout.write(
    JSON.stringify({
      requests: count,
      ok: latencies.length,
      failures: count - latencies.length,
      p50: round(percentile(latencies, 50)),
      p99: round(percentile(latencies, 99)),
      max: round(latencies[latencies.length - 1] ?? Number.NaN),
    }),
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
