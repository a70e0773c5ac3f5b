// npm run build — offline bundle check: `wrangler deploy --dry-run --outdir dist` bundles the Worker exactly
// as the production deploy would (`--env production`, as in the README), without uploading or contacting
// Cloudflare; then every module is gzipped and the total is held to a budget (Workers' size limit and cold
// starts both grow with the compressed size). BUNDLE_BUDGET_KIB overrides the budget.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

// 282.7 KiB since zod's locales left the bundle (321.3 KiB before, the same code): every locale rode along with
// `z` (`export * as locales` in zod's classic and core entry points), so wrangler.toml's [alias] points `zod` at
// an entry point of ours without them (src/lib/zod-entry/). Were the alias lost, they would come back and this
// budget would fail.
const BUDGET_KIB = 290;

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT_DIR = join(ROOT, 'dist');
const budgetKib = Number(process.env.BUNDLE_BUDGET_KIB || BUDGET_KIB);
if (!Number.isFinite(budgetKib) || budgetKib <= 0) {
  console.error(`BUNDLE_BUDGET_KIB must be a positive number, got "${process.env.BUNDLE_BUDGET_KIB}".`);
  process.exit(2);
}

rmSync(OUT_DIR, { recursive: true, force: true });
const wrangler = spawnSync(process.execPath, [join(ROOT, 'node_modules/wrangler/bin/wrangler.js'), 'deploy', '--dry-run', '--env', 'production', '--outdir', OUT_DIR], {
  cwd: ROOT,
  env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' },
  stdio: ['ignore', 'inherit', 'inherit'],
});
if (wrangler.status !== 0) {
  console.error(`wrangler deploy --dry-run failed (${wrangler.status ?? wrangler.signal}).`);
  process.exit(1);
}

// Source maps are uploaded beside the code but do not count towards the Worker's size; wrangler adds a README.
const modules = files(OUT_DIR).filter((file) => !file.endsWith('.map') && !file.endsWith('README.md'));
if (modules.length === 0) {
  console.error(`No modules in ${OUT_DIR}.`);
  process.exit(1);
}
const kib = (bytes: number) => (bytes / 1024).toFixed(1).padStart(8);
let raw = 0;
let gzip = 0;
console.log('\nBundle (KiB)        raw      gzip');
for (const file of modules) {
  const content = readFileSync(file);
  const compressed = gzipSync(content).length;
  raw += content.length;
  gzip += compressed;
  console.log(`  ${relative(ROOT, file).padEnd(14)} ${kib(content.length)}  ${kib(compressed)}`);
}
if (modules.length > 1) console.log(`  ${'total'.padEnd(14)} ${kib(raw)}  ${kib(gzip)}`);

const within = gzip <= budgetKib * 1024;
console.log(`\ngzip ${kib(gzip).trim()} KiB of a ${budgetKib} KiB budget: ${within ? 'ok' : 'OVER BUDGET'}`);
process.exit(within ? 0 : 1);

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? files(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}
