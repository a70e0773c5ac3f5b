import { eq, sql } from 'drizzle-orm';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import { MAX_RATE_LIMIT } from '../../src/lib/limits.ts';
import { apiKeys, credentials, memberships, organizations, platformAdmins, projects, users } from '../../src/db/schema/index.ts';
import { sha256Hex } from '../../src/lib/crypto.ts';
import { hashPassword } from '../../src/lib/passwords.ts';

/** Every demo user signs in with this password. Development data only. */
export const DEMO_PASSWORD = 'demo-password';

const ROLES = ['owner', 'admin', 'member', 'viewer'] as const;

/** Fixed ids make the seed idempotent and let docs and tests name the demo records. */
export const demo = {
  users: ROLES.map((role, index) => ({ id: `00000000-0000-4000-8000-00000000000${index + 1}`, email: `${role}@demo.example.com`, name: `Demo ${role[0]?.toUpperCase()}${role.slice(1)}`, role })),
  // A pro org whose request limits (the org's and each caller's) are raised to the maximum, so the demo can be load
  // tested with one sign-in (npm run bench, 1,000 connections); any other org gets its tier's figures (README, "Tiers, limits and quotas").
  org: {
    id: '00000000-0000-4000-8000-000000000100',
    name: 'Demo Inc.',
    slug: 'demo',
    subscriptionTier: 'pro' as const,
    limitOverrides: { rateLimits: { read: MAX_RATE_LIMIT, write: MAX_RATE_LIMIT }, callerRateLimits: { read: MAX_RATE_LIMIT, write: MAX_RATE_LIMIT } },
  },
  project: { id: '00000000-0000-4000-8000-000000001000', name: 'Website', description: 'The demo project' },
  apiKey: {
    id: '00000000-0000-4000-8000-000000010000',
    name: 'Demo key',
    key: 'sk_test_demo000000000000000000000000000000000000000',
    scopes: ['org:read', 'projects:read', 'projects:write'],
  },
};

/**
 * Inserts the demo dataset: an org with one member of every role, a project and an API key; the demo
 * owner is also a platform admin (as `npm run admin:grant` makes one), to try the /api/v1/admin/… routes.
 * Running it again changes nothing. Sets the tenant context, so it also works as a non-superuser owner.
 */
export async function seed(url: string): Promise<void> {
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  try {
    const db = drizzle({ client: pool });
    const passwordHash = await hashPassword(DEMO_PASSWORD);
    await db.transaction(async (tx) => {
      await tx.execute(sql`select set_config('app.org_id', ${demo.org.id}, true), set_config('app.actor', '{"type":"system","id":"seed"}', true)`);
      await tx.insert(users).values(demo.users.map(({ id, email, name }) => ({ id, email, name }))).onConflictDoNothing();
      await tx.insert(credentials).values(demo.users.map(({ id }) => ({ userId: id, passwordHash, emailVerifiedAt: new Date() }))).onConflictDoNothing();
      await insertDemoOrg(tx);
      await tx.insert(memberships).values(demo.users.map(({ id, role }) => ({ orgId: demo.org.id, userId: id, role }))).onConflictDoNothing();
      await tx.insert(projects).values({ ...demo.project, orgId: demo.org.id }).onConflictDoNothing();
      const { key, ...apiKey } = demo.apiKey;
      await tx.insert(apiKeys).values({ ...apiKey, orgId: demo.org.id, prefix: key.slice(0, 12), keyHash: await sha256Hex(key), createdBy: demo.users[0]?.id }).onConflictDoNothing();
      const owner = demo.users.find((user) => user.role === 'owner');
      if (owner) await tx.insert(platformAdmins).values({ userId: owner.id }).onConflictDoNothing();
    });
  } finally {
    await pool.end();
  }
}

type Transaction = Parameters<Parameters<NodePgDatabase['transaction']>[0]>[0];

/**
 * The demo org, inserted as any org starts (free tier, no overrides), then raised as the platform raises one:
 * by an UPDATE of its tier and overrides, which the owner may make. Inserted with its limits, it would be
 * refused wherever the owner is no superuser and a member of app_runtime that inherits it (as a plain GRANT makes
 * one, e.g. so it may create the runtime role): organizations forces row-level security on its owner too, and the
 * restrictive policy limits_default lets app_runtime's members insert only free orgs without overrides. Raised only when just inserted, so a re-run
 * changes nothing (nor undoes a change a platform admin made since).
 */
async function insertDemoOrg(tx: Transaction): Promise<void> {
  const { subscriptionTier, limitOverrides, ...org } = demo.org;
  const inserted = await tx.insert(organizations).values(org).onConflictDoNothing().returning({ id: organizations.id });
  if (inserted.length === 0) return;
  await tx.update(organizations).set({ subscriptionTier, limitOverrides }).where(eq(organizations.id, demo.org.id));
}
