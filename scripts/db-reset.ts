// npm run db:reset — deletes the local data (DATA_DIR, default .data/: the PostgreSQL cluster, wrangler's
// local state and the generated dev secrets). The next `npm run dev` starts from empty, migrates and seeds.
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { ROOT, assertClusterFree, assertDataDirFree } from './lib/platform.ts';

const dataDir = resolve(ROOT, process.env.DATA_DIR || '.data');
try {
  // Deleting the data under a running server leaves it half alive (ready → 503, logins still working).
  assertDataDirFree(dataDir);
  assertClusterFree(`${dataDir}/postgres`);
} catch (error) {
  console.error(`npm run db:reset refused: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
rmSync(dataDir, { recursive: true, force: true });
console.log(`local data removed (${dataDir})`);
