import { is, sql, type SQL } from 'drizzle-orm';
import { getTableConfig, PgTable } from 'drizzle-orm/pg-core';
import * as schema from '../../src/db/schema/index.ts';

export interface TenantTable {
  /** The table's name in Postgres. */
  name: string;
  /** The column holding the tenant (the org's id). */
  orgColumn: string;
}

/** The tenant itself: an organization's own `id` is its tenant key. */
const TENANT_ROOT: TenantTable = { name: getTableConfig(schema.organizations).name, orgColumn: 'id' };

/**
 * Every tenant table, derived from the drizzle schema rather than kept by hand: the organizations
 * table, and every table with an `org_id` column. A table added tomorrow is checked by today's tests.
 */
export const TENANT_TABLES: readonly TenantTable[] = [
  TENANT_ROOT,
  ...Object.values<unknown>(schema)
    .flatMap((value) => (is(value, PgTable) ? [getTableConfig(value)] : []))
    .filter((config) => config.columns.some((column) => column.name === 'org_id'))
    .map((config) => ({ name: config.name, orgColumn: 'org_id' })),
].sort((a, b) => (a.name < b.name ? -1 : 1));

export interface TenantTableFacts {
  enabled: boolean;
  forced: boolean;
  policies: number;
  /** Whether a policy for every role (so for the runtime role) compares the org column with app_org_id(). */
  orgPolicy: boolean;
  /** The table privileges the runtime role holds, of SELECT, INSERT, UPDATE and DELETE. */
  runtimeGrants: string[];
  /** pg_get_triggerdef of the enabled AFTER ROW trigger calling audit_row_change, if any. */
  auditTrigger: string | null;
}

/** What Postgres says about a table's security pieces, as one row of {@link TenantTableFacts}. */
export function tenantTableFacts(table: TenantTable): SQL {
  return sql`
    select c.relrowsecurity as enabled, c.relforcerowsecurity as forced,
      (select count(*)::int from pg_policy p where p.polrelid = c.oid) as policies,
      exists (select 1 from pg_policies p where p.schemaname = 'public' and p.tablename = c.relname
        and p.roles = '{public}' and p.qual like ${`%(${table.orgColumn} = app_org_id())%`}) as "orgPolicy",
      array(select g from unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE']) as g
        where has_table_privilege('app_runtime', c.oid, g)) as "runtimeGrants",
      (select pg_get_triggerdef(t.oid) from pg_trigger t
        where t.tgrelid = c.oid and t.tgfoid = 'audit_row_change'::regproc and not t.tgisinternal and t.tgenabled = 'O') as "auditTrigger"
    from pg_class c where c.oid = to_regclass(${table.name})`;
}
