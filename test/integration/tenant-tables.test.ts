import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { ownerDb } from '../helpers/factories.ts';
import { TENANT_TABLES, tenantTableFacts, type TenantTable, type TenantTableFacts } from '../helpers/tenant-tables.ts';

/**
 * Every tenant table (derived from the drizzle schema: organizations and each table with org_id) has all
 * the pieces app_secure_tenant_table gives a new one. The exceptions are named here, with the reason.
 */
const NO_AUDIT_TRIGGER: Record<string, string> = {
  audit_logs: 'the audit log itself: its rows are written by the audit trigger',
  audit_chain_heads: "the audit log's chain bookkeeping, written by the audit trigger",
  webhook_endpoint_states: 'delivery bookkeeping moved by every fan-out: audited, each delivery would be an event',
  webhook_messages: 'one row per event and endpoint, derived from the audit log: auditing them would loop',
  usage_daily: 'a rollup, rewritten by every refresh (usage analytics): it records activity, auditing it would double it',
  user_activity_daily: 'a rollup, rewritten by every refresh (usage analytics)',
  user_activity_summary: 'a rollup, rewritten by every refresh (usage analytics)',
};
const READ_ONLY_FOR_RUNTIME: Record<string, string> = {
  audit_logs: 'append-only: the app reads it; only the audit trigger (as app_internal) writes it',
  audit_chain_heads: 'the app reads its head to verify the chain; only the audit trigger moves it',
  usage_daily: 'written only by the rollup refresh (app_usage_refresh_day, as app_internal)',
  user_activity_daily: 'written only by the rollup refresh (app_usage_refresh_day, as app_internal)',
  user_activity_summary: 'written only by the rollup refresh (app_usage_refresh_day, as app_internal)',
};
/** Tables whose UPDATE the runtime role holds on some columns only, and those columns. */
const UPDATE_ON_COLUMNS: Record<string, { columns: string[]; why: string }> = {
  organizations: {
    columns: ['deleted_at', 'name', 'slug', 'updated_at'],
    why: 'the tier and limit overrides are set only by platform admins (src/db/sql/platform-orgs.sql)',
  },
};
const READ_WRITE = ['SELECT', 'INSERT', 'UPDATE', 'DELETE'];

async function runtimeUpdateColumns(table: string): Promise<string[]> {
  const { rows } = await ownerDb.http.execute<{ column_name: string }>(sql`
    select column_name from information_schema.column_privileges
    where table_schema = 'public' and table_name = ${table} and grantee = 'app_runtime' and privilege_type = 'UPDATE'
    order by column_name`);
  return rows.map((row) => row.column_name);
}

async function factsOf(table: TenantTable): Promise<TenantTableFacts | undefined> {
  const { rows } = await ownerDb.http.execute<TenantTableFacts & Record<string, unknown>>(tenantTableFacts(table));
  return rows[0];
}

describe('tenant tables', () => {
  it('are derived from the schema: the organizations table and every table with org_id', () => {
    expect(TENANT_TABLES.map((table) => table.name)).toEqual(expect.arrayContaining(['organizations', 'projects', 'memberships', 'api_keys', 'audit_logs']));
    expect(TENANT_TABLES.find((table) => table.name === 'organizations')?.orgColumn).toBe('id');
    expect(TENANT_TABLES.find((table) => table.name === 'users')).toBeUndefined();
    for (const name of [...Object.keys(NO_AUDIT_TRIGGER), ...Object.keys(READ_ONLY_FOR_RUNTIME)]) {
      expect(TENANT_TABLES.map((table) => table.name), `exemption for ${name}`).toContain(name);
    }
  });

  it.each(TENANT_TABLES)('$name: RLS enabled and forced, an org policy, the runtime grants, the audit trigger', async (table) => {
    const facts = await factsOf(table);
    expect(facts, `${table.name} exists`).toBeDefined();
    expect(facts).toMatchObject({ enabled: true, forced: true, orgPolicy: true });
    expect(facts?.policies).toBeGreaterThanOrEqual(1);
    const onColumns = UPDATE_ON_COLUMNS[table.name];
    if (onColumns) {
      expect(facts?.runtimeGrants).toEqual(READ_WRITE.filter((grant) => grant !== 'UPDATE'));
      expect(await runtimeUpdateColumns(table.name), onColumns.why).toEqual(onColumns.columns);
    } else {
      expect(facts?.runtimeGrants).toEqual(table.name in READ_ONLY_FOR_RUNTIME ? ['SELECT'] : READ_WRITE);
    }
    if (table.name in NO_AUDIT_TRIGGER) {
      expect(facts?.auditTrigger).toBeNull();
    } else {
      // The trigger's third argument names the column it reads the org from: the table's tenant key.
      expect(facts?.auditTrigger).toMatch(new RegExp(`^CREATE TRIGGER \\w+ AFTER INSERT OR DELETE OR UPDATE ON public\\.${table.name} FOR EACH ROW EXECUTE FUNCTION audit_row_change\\('\\w+', '\\w+', '${table.orgColumn}'\\)$`));
    }
  });
});
