// npm run dev — the whole platform locally: PostgreSQL, Neon proxy, migrations, demo seed, wrangler dev.
// Environment: PORT (HTTP, default 8787), PG_PORT (54329), NEON_PROXY_PORT (54330), DATA_DIR (where the
// PostgreSQL cluster and wrangler's local state persist; default <repo>/.data, relative paths from the
// repository root) and DATABASE_URL (if set, used instead of a local PostgreSQL).
// Ctrl-C / SIGTERM stops everything it started and exits 0.
import { resolve } from 'node:path';
import { ROOT, onShutdownSignal, startPlatform, type Platform } from './lib/platform.ts';

const env = process.env;
const controller = new AbortController();
let platform: Platform | undefined;
let stopping = false;

onShutdownSignal((signal) => {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping…`);
  // While starting, startPlatform stops what it started itself and rejects.
  if (!platform) return controller.abort(new Error(`interrupted by ${signal}`));
  void platform.stop().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
});

try {
  platform = await startPlatform({
    port: port('PORT', 8787),
    databaseUrl: env.DATABASE_URL || undefined,
    dataDir: resolve(ROOT, env.DATA_DIR || '.data'),
    persistent: true,
    pgPort: port('PG_PORT', 54329),
    proxyPort: port('NEON_PROXY_PORT', 54330),
    inheritOutput: true,
    signal: controller.signal,
  });
} catch (error) {
  if (controller.signal.aborted) process.exit(0);
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
}

console.log(`\nReady: ${platform.url}  (health: ${platform.url}/api/health/ready, docs: ${platform.url}/api/docs)\n`);

function port(name: string, fallback: number): number {
  const value = Number(env[name] || fallback);
  if (!Number.isInteger(value) || value < 1 || value > 65_535) {
    console.error(`${name} must be a TCP port (1-65535), got "${env[name]}".`);
    process.exit(1);
  }
  return value;
}
