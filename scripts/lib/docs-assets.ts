import { copyFileSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The reference UI's self-contained browser build, pinned (exact version) in package.json. */
export const DOCS_UI_SOURCE = join(ROOT, 'node_modules/@scalar/api-reference/dist/browser/standalone.js');

/** Where Workers static assets (`[assets] directory` in wrangler.toml) pick it up; served at /api/docs/api-reference.js. */
export const DOCS_UI_TARGET = join(ROOT, 'public/api/docs/api-reference.js');

/**
 * Copies the reference UI out of node_modules into the static assets folder, so the Worker serves it from
 * its own origin and /api/docs needs no third-party host. Skips an identical copy (wrangler dev reloads on
 * a changed asset). Throws with the fix when the package is missing.
 */
export function copyDocsAssets(): void {
  let source: Buffer;
  try {
    source = readFileSync(DOCS_UI_SOURCE);
  } catch {
    throw new Error(`${DOCS_UI_SOURCE} is missing: run \`npm ci\` (the API reference UI comes from the pinned @scalar/api-reference).`);
  }
  if (sameSize(DOCS_UI_TARGET, source.length) && readFileSync(DOCS_UI_TARGET).equals(source)) return;
  mkdirSync(dirname(DOCS_UI_TARGET), { recursive: true });
  copyFileSync(DOCS_UI_SOURCE, DOCS_UI_TARGET);
}

function sameSize(file: string, size: number): boolean {
  try {
    return statSync(file).size === size;
  } catch {
    return false;
  }
}
