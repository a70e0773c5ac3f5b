// npm run db:migrate — applies migrations/ to $DATABASE_URL (run as the database owner).
import { applyMigrations } from './lib/migrate.ts';

const url = process.env.DATABASE_URL;
if (!url) {
  console.error('DATABASE_URL is not set. Example: DATABASE_URL=postgres://owner:…@host/db npm run db:migrate');
  process.exit(1);
}
await applyMigrations(url);
console.log('migrations applied');
