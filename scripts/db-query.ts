// npm run db:query -- "select * from organizations" — runs one SQL statement as the schema owner and prints the
// rows as a table: the local data seen whole (the Worker's runtime role sees only a tenant's rows, under RLS).
// Connects to DATABASE_URL if set, else to the local PostgreSQL of `npm run dev` (PG_PORT, default 54329).
import pg from 'pg';

const text = process.argv.slice(2).join(' ').trim();
if (!text) {
  console.error('Usage: npm run db:query -- "select * from organizations"');
  process.exit(2);
}
const url = process.env.DATABASE_URL || `postgres://postgres:postgres@127.0.0.1:${process.env.PG_PORT || 54329}/app`;
const client = new pg.Client({ connectionString: url });
try {
  await client.connect();
  const result = await client.query(text);
  if (result.rows.length > 0) console.table(result.rows);
  console.log(`${result.command} ${result.rowCount ?? 0}`);
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
} finally {
  await client.end().catch(() => {});
}
