import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Flags that let Debian's chromium run headless as root in a container, with no network. */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

/**
 * Debian's chromium binary (playwright cannot download browsers here). As root on a Debian-like
 * machine it installs the `chromium` package when missing; otherwise it returns `undefined` and
 * the browser tests skip with one line saying why.
 */
export function findChromium(): string | undefined {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv && existsSync(fromEnv)) return fromEnv;
  const found = CANDIDATES.find((path) => existsSync(path));
  if (found) return found;
  if (process.getuid?.() === 0 && existsSync('/usr/bin/apt-get')) {
    process.stderr.write('chromium missing: installing Debian package chromium...\n');
    try {
      execFileSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium'], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 600_000 });
    } catch {
      // Reported below as a skip.
    }
    return CANDIDATES.find((path) => existsSync(path));
  }
  return undefined;
}
