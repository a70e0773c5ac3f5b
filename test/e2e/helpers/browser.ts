// A real headless Chromium for e2e tests: Debian's `chromium` package (or CHROMIUM_PATH) driven by playwright-core.
import { existsSync } from 'node:fs';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];

/** The browser binary to drive, or undefined when this machine has none. */
export function findChromium(): string | undefined {
  const configured = process.env.CHROMIUM_PATH;
  if (configured) return configured;
  return CANDIDATES.find((path) => existsSync(path));
}

/**
 * Whether browser tests run here. In CI a missing browser is a failure (`.ci/run` installs it), never a skip;
 * elsewhere the tests skip, saying so loudly.
 */
export function browserAvailable(): boolean {
  if (findChromium() || process.env.CI) return true;
  console.warn(
    '\n!!! SKIPPING the browser tests: no Chromium found (looked at CHROMIUM_PATH and ' +
      `${CANDIDATES.join(', ')}). Install it (Debian/Ubuntu: \`sudo apt-get install -y chromium\`) or set CHROMIUM_PATH. !!!\n`,
  );
  return false;
}

/** A loopback URL, or one the page makes itself (data:, blob:, about:): everything else is blocked in tests. */
export function isLocalUrl(url: string): boolean {
  const { protocol, hostname } = new URL(url);
  if (protocol === 'data:' || protocol === 'blob:' || protocol === 'about:') return true;
  return hostname === '127.0.0.1' || hostname === 'localhost' || hostname === '[::1]';
}
