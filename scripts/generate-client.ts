// npm run client:generate [-- <out file>] — types for a typed TypeScript client (openapi-fetch), generated from
// the OpenAPI document of a running API: API_URL, default the local `npm run dev` (http://127.0.0.1:$PORT).
// Writes client/api.d.ts unless told otherwise (README, "A typed client for the frontend").
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateClientTypes } from './lib/client-types.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

const apiUrl = process.env.API_URL || `http://127.0.0.1:${process.env.PORT || 8787}`;
// npm runs a script from the repository root; a relative file means one from where the user typed the command
// (INIT_CWD, which npm sets to that folder), as any command line does.
const outFile = process.argv[2] ? resolve(process.env.INIT_CWD || process.cwd(), process.argv[2]) : resolve(ROOT, 'client/api.d.ts');
try {
  await generateClientTypes(apiUrl, outFile);
  console.log(`${outFile} ← ${apiUrl}/api/openapi.json`);
} catch (error) {
  console.error(`Could not read ${apiUrl}/api/openapi.json (is \`npm run dev\` running? set API_URL otherwise): ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
