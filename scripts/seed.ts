// npm run db:seed — inserts the demo dataset into $DATABASE_URL; idempotent.
import { seed } from './lib/seed.ts';

const url = process.env.DATABASE_URL;
if (!url) {
  console.error('DATABASE_URL is not set.');
  process.exit(1);
}
await seed(url);
console.log('demo data seeded');
