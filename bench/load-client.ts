/**
 * The throughput load generator: `node --import tsx bench/load-client.ts URL CONNECTIONS SECONDS
 * [unique]` runs autocannon in this process (pinned apart from the server by the runner) and
 * prints one JSON line. With `unique`, every request gets its own `id` query parameter, so every
 * request is a new cache key.
 */
import autocannon from 'autocannon';

async function main(): Promise<void> {
  const [url, connectionsText, secondsText, mode] = process.argv.slice(2);
  const connections = Number(connectionsText);
  const duration = Number(secondsText);
  if (!url || !Number.isInteger(connections) || connections <= 0 || !(duration > 0 && duration <= 120)) {
    throw new Error('usage: load-client URL CONNECTIONS SECONDS(<=120) [unique]');
  }
  const target = new URL(url);
  const run = `${process.pid.toString(36)}${Date.now().toString(36)}`;
  let sequence = 0;
  const requests =
    mode === 'unique'
      ? [{ method: 'GET', setupRequest: (request: { path?: string }) => ({ ...request, path: `${target.pathname}?id=${run}-${sequence++}` }) }]
      : undefined;
  const result = await autocannon({ url, connections, duration, timeout: 10, requests });
  process.stdout.write(
    JSON.stringify({
      rps: result.requests.total / result.duration,
      p99: result.latency.p99,
      total: result.requests.total,
      failures: result.non2xx + result.errors + result.timeouts,
    }),
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
