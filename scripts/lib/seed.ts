import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import { organizations, projects, users } from '../../src/db/schema/index.ts';

/** Fixed ids make the seed idempotent and let docs and tests name the demo records. */
export const demo = {
  user: { id: '00000000-0000-4000-8000-000000000001', email: 'owner@demo.example.com', name: 'Demo Owner' },
  org: { id: '00000000-0000-4000-8000-000000000100', name: 'Demo Inc.', slug: 'demo', subscriptionTier: 'pro' as const },
  project: { id: '00000000-0000-4000-8000-000000001000', name: 'Website', description: 'The demo project' },
};

/** Inserts the demo dataset; running it again changes nothing. */
export async function seed(url: string): Promise<void> {
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  try {
    const db = drizzle({ client: pool });
    await db.transaction(async (tx) => {
      await tx.insert(users).values(demo.user).onConflictDoNothing();
      await tx.insert(organizations).values(demo.org).onConflictDoNothing();
      await tx.insert(projects).values({ ...demo.project, orgId: demo.org.id }).onConflictDoNothing();
    });
  } finally {
    await pool.end();
  }
}
