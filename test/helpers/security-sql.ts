import { sql } from 'drizzle-orm';
import { SECURITY_SQL_FILES } from '../../scripts/lib/security-sql.ts';
import type { Transaction } from '../../src/db/client.ts';
import { ownerDb } from './factories.ts';

/** src/db/sql/*.sql by file name; read at build time (`?raw`), since workerd has no file system. */
export const securitySqlFiles: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(import.meta.glob<string>('../../src/db/sql/*.sql', { query: '?raw', import: 'default', eager: true })).map(([path, text]) => [
    path.slice(path.lastIndexOf('/') + 1),
    text,
  ]),
);

export interface FunctionState {
  signature: string;
  /** pg_get_functiondef: Postgres's own normal form of the whole CREATE statement, body verbatim. */
  definition: string;
  owner: string;
  acl: string | null;
}

const SCRATCH = 'security_sql_check';

/** Every function of `schema` with its definition, owner and privileges, the schema name written as `public`. */
function functionsOf(schema: string) {
  return sql`
    select p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' as signature,
      replace(pg_get_functiondef(p.oid), ${`FUNCTION ${schema}.`}, 'FUNCTION public.') as definition,
      pg_get_userbyid(p.proowner) as owner, p.proacl::text as acl
    from pg_proc p where p.pronamespace = ${schema}::regnamespace order by 1`;
}

/**
 * Runs `files` (in SECURITY_SQL_FILES order) into an empty scratch schema that comes first on the
 * search path, so every CREATE, ALTER OWNER, REVOKE and GRANT in them lands there, then returns the
 * functions they made next to the migrated database's own (schema public). Rolled back: changes nothing.
 */
export function functionsFromFilesAndLive(files: Readonly<Record<string, string>>): Promise<{ fromFiles: FunctionState[]; live: FunctionState[] }> {
  return rolledBack(async (tx) => {
    await tx.execute(sql.raw(`create schema ${SCRATCH}; set local search_path = ${SCRATCH}, public, pg_temp`));
    for (const name of SECURITY_SQL_FILES) await tx.execute(sql.raw(files[name] ?? ''));
    const { rows: fromFiles } = await tx.execute<FunctionState & Record<string, unknown>>(functionsOf(SCRATCH));
    const { rows: live } = await tx.execute<FunctionState & Record<string, unknown>>(functionsOf('public'));
    return { fromFiles, live };
  });
}

/** Runs `work` in a transaction as the schema owner and returns what it returned; then rolls everything back. */
export async function rolledBack<T>(work: (tx: Transaction) => Promise<T>): Promise<T> {
  const rollback = new Error('rollback');
  const done: { result?: { value: T } } = {};
  await ownerDb
    .transaction(async (tx) => {
      done.result = { value: await work(tx) };
      // Throwing is how drizzle rolls a transaction back.
      throw rollback;
    })
    .catch((error: unknown) => {
      if (error !== rollback) throw error;
    });
  if (!done.result) throw new Error('the transaction neither finished nor failed');
  return done.result.value;
}
