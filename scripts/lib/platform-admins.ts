import { eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import { platformAdmins, users } from '../../src/db/schema/index.ts';

/** What granting or revoking did; `unknown-user` when no account has the email. */
export type AdminChange = 'granted' | 'already-admin' | 'revoked' | 'not-admin' | 'unknown-user';

/**
 * Makes the user with `email` a platform admin (`grant`) or no longer one (`revoke`). Needs the database
 * owner's URL: the app's runtime role can read platform_admins, never write it, so no API can grant this.
 */
export async function changePlatformAdmin(url: string, email: string, change: 'grant' | 'revoke'): Promise<AdminChange> {
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  try {
    const db = drizzle({ client: pool });
    // Emails are stored normalised (trimmed, lower-case).
    const [user] = await db.select({ id: users.id }).from(users).where(eq(users.email, email.trim().toLowerCase()));
    if (!user) return 'unknown-user';
    if (change === 'grant') {
      const inserted = await db.insert(platformAdmins).values({ userId: user.id }).onConflictDoNothing().returning();
      return inserted.length > 0 ? 'granted' : 'already-admin';
    }
    const deleted = await db.delete(platformAdmins).where(eq(platformAdmins.userId, user.id)).returning();
    return deleted.length > 0 ? 'revoked' : 'not-admin';
  } finally {
    await pool.end();
  }
}
