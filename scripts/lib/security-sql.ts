/**
 * The files of src/db/sql/, in the order a migration applies them: a SQL-language function is checked
 * when it is created, so what it calls comes first. A file that is not listed here fails the tests.
 */
export const SECURITY_SQL_FILES = [
  'context.sql',
  'masking.sql',
  'audit.sql',
  'gate.sql',
  'edge.sql',
  'platform-admin.sql',
  'api-keys.sql',
  'users.sql',
  'invitations.sql',
  'refresh.sql',
  'tenant-tables.sql',
  'platform-orgs.sql',
  'idempotency.sql',
  'files.sql',
  'webhooks.sql',
  'notifications.sql',
  'usage.sql',
] as const;

/** First line of every migration generated from src/db/sql/; how tests find the newest one. */
export const SECURITY_SQL_HEADER = '-- Generated from src/db/sql/ by `node scripts/generate-security-sql.ts`.';

/**
 * The migration that (re)creates every security function from the current src/db/sql/ files, given
 * their contents by file name. Pure, so the generator (Node) and the drift test (workerd) share it.
 * Each file is one drizzle statement (node-postgres sends a chunk without parameters as one simple
 * query, which may hold several statements); every statement in the files is repeatable.
 */
export function renderSecuritySqlMigration(files: Readonly<Record<string, string>>): string {
  const chunks = SECURITY_SQL_FILES.map((name) => {
    const content = files[name];
    if (content === undefined) throw new Error(`src/db/sql/${name} is missing`);
    return `-- src/db/sql/${name}\n${content.trimEnd()}\n`;
  });
  const header = [
    SECURITY_SQL_HEADER,
    '-- Do not edit: change src/db/sql/ and generate a new migration (README, "Security SQL").',
  ].join('\n');
  return `${header}\n${chunks.join('--> statement-breakpoint\n')}`;
}
