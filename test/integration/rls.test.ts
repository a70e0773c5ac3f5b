import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { sqlState } from '../../src/db/errors.ts';
import { apiKeys, auditLogs, projects } from '../../src/db/schema/index.ts';
import { createApiKey, createOrg, createProject, createUser } from '../helpers/factories.ts';
import { TENANT_TABLES } from '../helpers/tenant-tables.ts';
import { testDb } from '../helpers/worker.ts';

/**
 * Wall 2 on its own: these queries skip the app entirely (no gate, no membership check) and talk to
 * Postgres as the Worker's runtime role, setting the tenant context by hand. RLS alone must keep
 * every other tenant's rows out of reach.
 */
const db = testDb();
const asTenant = (orgId: string) => db.http.execute(sql`select set_config('app.org_id', ${orgId}, true)`);

async function twoTenants() {
  const alice = await createUser();
  const bob = await createUser();
  const a = await createOrg(alice);
  const b = await createOrg(bob);
  const projectA = await createProject(a);
  const projectB = await createProject(b);
  await createApiKey(b, { scopes: ['projects:read'] });
  return { a, b, projectA, projectB };
}

describe('row-level security alone', () => {
  it('shows no tenant rows at all without a tenant context', async () => {
    await twoTenants();
    const counts = await Promise.all(
      TENANT_TABLES.map(async ({ name }) => {
        const { rows } = await db.http.execute<{ count: number }>(sql`select count(*)::int as count from ${sql.identifier(name)}`);
        return [name, rows[0]?.count] as const;
      }),
    );
    expect(Object.fromEntries(counts)).toEqual(Object.fromEntries(TENANT_TABLES.map(({ name }) => [name, 0])));
  });

  it("shows only the current tenant's rows, even to a query that asks for another tenant's", async () => {
    const { a, b, projectA } = await twoTenants();
    const [, all, foreign, foreignKeys, foreignAudit] = await db.http.batch([
      asTenant(a.id),
      db.http.select({ id: projects.id, orgId: projects.orgId }).from(projects),
      db.http.select().from(projects).where(sql`${projects.orgId} = ${b.id}`),
      db.http.select().from(apiKeys).where(sql`${apiKeys.orgId} = ${b.id}`),
      db.http.select().from(auditLogs).where(sql`${auditLogs.orgId} = ${b.id}`),
    ]);
    expect(all).toEqual([{ id: projectA.id, orgId: a.id }]);
    expect(foreign).toEqual([]);
    expect(foreignKeys).toEqual([]);
    expect(foreignAudit).toEqual([]);
  });

  it("cannot change or delete another tenant's rows", async () => {
    const { a, projectB } = await twoTenants();
    const [, updated, deleted] = await db.http.batch([
      asTenant(a.id),
      db.http.update(projects).set({ name: 'pwned' }).where(sql`${projects.id} = ${projectB.id}`).returning(),
      db.http.delete(projects).where(sql`${projects.id} = ${projectB.id}`).returning(),
    ]);
    expect(updated).toEqual([]);
    expect(deleted).toEqual([]);
  });

  it("cannot write a row into another tenant (WITH CHECK), and the whole transaction rolls back", async () => {
    const { a, b } = await twoTenants();
    const error = await db.http
      .batch([asTenant(a.id), db.http.insert(projects).values({ orgId: b.id, name: 'smuggled' })])
      .then(() => undefined, (caught: unknown) => caught);
    expect(sqlState(error)).toBe('42501');
  });

  it('runs as a role that is not superuser, not BYPASSRLS and owns no tenant table; RLS is forced on every tenant table', async () => {
    const { rows: [role] } = await db.http.execute<{ rolsuper: boolean; rolbypassrls: boolean }>(sql`select rolsuper, rolbypassrls from pg_roles where rolname = current_user`);
    expect(role).toEqual({ rolsuper: false, rolbypassrls: false });
    const { rows: tables } = await db.http.execute<{ relname: string; owned: boolean; enabled: boolean; forced: boolean }>(sql`
      select c.relname, pg_get_userbyid(c.relowner) = current_user as owned, c.relrowsecurity as enabled, c.relforcerowsecurity as forced
      from pg_class c where c.relnamespace = 'public'::regnamespace and c.relname = any(${sql.param(TENANT_TABLES.map(({ name }) => name))}::text[]) order by c.relname collate "C"`);
    expect(tables.map((table) => table.relname)).toEqual(TENANT_TABLES.map(({ name }) => name));
    for (const table of tables) expect(table, table.relname).toMatchObject({ owned: false, enabled: true, forced: true });
  });
});
