import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { generateSecrets } from '../scripts/lib/dev-secrets.ts';
import { ensureRuntimeRole, startLocalPostgres } from '../scripts/lib/local-postgres.ts';
import { applyMigrations } from '../scripts/lib/migrate.ts';
import { startNeonProxy } from '../scripts/lib/neon-proxy.ts';
import { freePort } from '../scripts/lib/ports.ts';
import { startFakeServices } from './helpers/fake-services.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    ownerDatabaseUrl: string;
    jwtSigningKey: string;
    tokenSecret: string;
    neonProxy: string;
    fakeServicesUrl: string;
  }
}

/** A throwaway PostgreSQL, the Neon proxy in front of it, and the fake third-party services. */
export default async function setup(project: TestProject) {
  const dataRoot = mkdtempSync(join(tmpdir(), 'edge-saas-test-'));
  // PostgreSQL runs as its own user when we are root; it must be able to enter this folder.
  chmodSync(dataRoot, 0o755);
  const postgres = await startLocalPostgres({ dataDir: join(dataRoot, 'postgres'), port: await freePort(), persistent: false });
  await applyMigrations(postgres.url);
  const runtimeUrl = await ensureRuntimeRole(postgres.url);
  const secrets = await generateSecrets();
  const proxy = await startNeonProxy({ port: 0 });
  const fakeServices = await startFakeServices();

  // The Worker connects as the runtime role (RLS applies); tests set up fixtures as the owner.
  project.provide('databaseUrl', runtimeUrl);
  project.provide('ownerDatabaseUrl', postgres.url);
  project.provide('jwtSigningKey', secrets.JWT_SIGNING_KEY);
  project.provide('tokenSecret', secrets.TOKEN_SECRET);
  project.provide('neonProxy', proxy.url);
  project.provide('fakeServicesUrl', fakeServices.url);

  return async () => {
    await fakeServices.close();
    await proxy.close();
    await postgres.stop();
    rmSync(dataRoot, { recursive: true, force: true });
  };
}
