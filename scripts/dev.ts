// npm run dev — the whole platform locally: PostgreSQL, Neon proxy, migrations, demo seed, wrangler dev.
// PORT picks the HTTP port (default 8787); DATABASE_URL, if set, is used instead of a local PostgreSQL.
import { ROOT, startPlatform } from './lib/platform.ts';

const platform = await startPlatform({
  port: Number(process.env.PORT ?? 8787),
  databaseUrl: process.env.DATABASE_URL || undefined,
  dataDir: `${ROOT}/.data`,
  persistent: true,
  pgPort: Number(process.env.PG_PORT ?? 54329),
  proxyPort: Number(process.env.NEON_PROXY_PORT ?? 54330),
  inheritOutput: true,
});

console.log(`\nReady: ${platform.url}  (health: ${platform.url}/api/health/ready, docs: ${platform.url}/api/docs)\n`);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    console.log('\nStopping…');
    void platform.stop().then(() => process.exit(0));
  });
}
