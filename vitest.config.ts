import { cloudflareTest } from '@cloudflare/vitest-plugin';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { copyDocsAssets } from './scripts/lib/docs-assets.ts';

// wrangler.toml's [assets] folder must hold the API reference UI before the workers pool reads it
// (the pool does not run wrangler's [build] step).
copyDocsAssets();

// wrangler.toml's [alias] (`zod` → our entry point without zod's locales) shapes wrangler's bundles only; the
// workers pool resolves modules through Vite and ignores it, so the tests say it again, for every importer of
// exactly `zod` (our code and @hono/zod-openapi alike), and run on the zod the Worker ships.
const ZOD_ALIAS = { find: /^zod$/, replacement: fileURLToPath(new URL('./src/lib/zod-entry/index.ts', import.meta.url)) };

// Integration tests inside workerd, through the Worker's own handlers, with real local KV/R2/DO/Queues and a
// throwaway real PostgreSQL reached through the Neon driver.
const workers = () =>
  cloudflareTest(({ inject }) => ({
    wrangler: { configPath: './wrangler.toml' },
    miniflare: {
      // Lets tests call SELF.scheduled(); test-only.
      compatibilityFlags: ['service_binding_extra_handlers', 'nodejs_als'],
      bindings: {
        APP_ENV: 'test',
        DATABASE_URL: inject('databaseUrl'),
        OWNER_DATABASE_URL: inject('ownerDatabaseUrl'),
        JWT_SIGNING_KEY: inject('jwtSigningKey'),
        TOKEN_SECRET: inject('tokenSecret'),
        NEON_LOCAL_PROXY: inject('neonProxy'),
        FAKE_SERVICES_URL: inject('fakeServicesUrl'),
        SENTRY_DSN: '',
        DEV_OUTBOX: 'on',
        // Endpoints the fuzzer creates point at made-up public hosts: their deliveries give up quickly.
        WEBHOOK_TIMEOUT_MS: '2000',
      },
    },
  }));

// Files that run maintenance tasks on a clock moved ahead: a task sees every org's rows in the one test database, so
// it would clean up, retry or roll up what tests running beside it are still using. `npm test` (scripts/test.ts)
// runs them as a vitest run of their own, on a database of its own.
const CLOCK_FILES = ['files', 'files-limits', 'files-multipart', 'maintenance-sql', 'scheduled', 'usage-tasks', 'webhook-delivery'].map((name) => `test/integration/${name}.test.ts`);

export default defineConfig({
  test: {
    // Root level, so it loads as plain Node (a workerd project would resolve `ws` to its browser build).
    globalSetup: ['test/global-setup.ts'],
    // The app logs a JSON line per request; show logs only for tests that fail.
    silent: 'passed-only',
    // One file at a time: with several at once, @cloudflare/vitest-plugin sometimes stops starting files and the run
    // waits forever (cloudflare/workers-sdk#15498). `npm test` runs several vitest processes instead (scripts/test.ts).
    maxWorkers: 1,
    projects: [
      {
        plugins: [workers()],
        resolve: { alias: [ZOD_ALIAS] },
        test: {
          name: 'workers',
          include: ['test/integration/**/*.test.ts', 'test/unit/**/*.test.ts'],
          exclude: CLOCK_FILES,
          testTimeout: 20_000,
        },
      },
      {
        plugins: [workers()],
        resolve: { alias: [ZOD_ALIAS] },
        test: {
          name: 'workers-clock',
          include: CLOCK_FILES,
          testTimeout: 20_000,
        },
      },
      {
        // End to end: the dev server started exactly as `npm run dev` starts it, driven over HTTP from Node.
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
