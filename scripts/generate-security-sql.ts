// npm run db:security-sql (node scripts/generate-security-sql.ts) — after changing a file in src/db/sql/: adds a migration (through
// `drizzle-kit generate --custom`, so drizzle's journal and snapshot stay consistent) that re-applies every
// file of src/db/sql/. A landed migration is never edited; the new one replaces the functions it defines.
//
// Why a generated migration rather than re-applying src/db/sql/ after the migrations (Flyway's repeatable
// migrations): the migrations stay the one ordered history, so every runner of them (npm run db:migrate,
// test/global-setup.ts, npm run dev, or drizzle-kit migrate) builds the same database, in drizzle's one
// transaction; and a later migration can rely on a function (app_secure_tenant_table) existing at its
// point in history. test/integration/security-sql.test.ts fails when the files and the newest generated
// migration, or the migrated database, disagree.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SECURITY_SQL_FILES, renderSecuritySqlMigration } from './lib/security-sql.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SQL_DIR = `${ROOT}src/db/sql/`;
const MIGRATIONS = `${ROOT}migrations/`;

const present = readdirSync(SQL_DIR).filter((name) => name.endsWith('.sql')).sort();
const listed = [...SECURITY_SQL_FILES].sort();
if (present.join() !== listed.join()) {
  console.error(`src/db/sql/ holds ${present.join(', ')}; scripts/lib/security-sql.ts lists ${listed.join(', ')}. Make them match.`);
  process.exit(1);
}
const files = Object.fromEntries(SECURITY_SQL_FILES.map((name) => [name, readFileSync(SQL_DIR + name, 'utf8')]));

execFileSync(`${ROOT}node_modules/.bin/drizzle-kit`, ['generate', '--custom', '--name', 'security_sql'], { cwd: ROOT, stdio: 'inherit' });
const journal: { entries: Array<{ tag: string }> } = JSON.parse(readFileSync(`${MIGRATIONS}meta/_journal.json`, 'utf8'));
const tag = journal.entries.at(-1)?.tag;
if (!tag) throw new Error('drizzle-kit generate left an empty journal');
writeFileSync(`${MIGRATIONS}${tag}.sql`, renderSecuritySqlMigration(files));
console.log(`wrote migrations/${tag}.sql from src/db/sql/`);
