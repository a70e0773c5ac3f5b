import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import journalText from '../../migrations/meta/_journal.json?raw';
import { SECURITY_SQL_FILES, SECURITY_SQL_HEADER, renderSecuritySqlMigration } from '../../scripts/lib/security-sql.ts';
import { sqlState } from '../../src/db/errors.ts';
import { createOrg, createUser } from '../helpers/factories.ts';
import { functionsFromFilesAndLive, rolledBack, securitySqlFiles } from '../helpers/security-sql.ts';
import { tenantTableFacts, type TenantTableFacts } from '../helpers/tenant-tables.ts';

/**
 * src/db/sql/ holds the current body of every security function: the newest generated migration is
 * exactly those files, and the migrated database runs exactly those functions.
 */
const migrations = Object.entries(import.meta.glob<string>('../../migrations/*.sql', { query: '?raw', import: 'default', eager: true }))
  .map(([path, text]) => ({ tag: path.slice(path.lastIndexOf('/') + 1, -'.sql'.length), text }))
  .sort((a, b) => a.tag.localeCompare(b.tag));
const journal: { entries: Array<{ tag: string; when: number }> } = JSON.parse(journalText);

describe('security SQL files', () => {
  it('are exactly the files scripts/lib/security-sql.ts applies, in its order', () => {
    expect(Object.keys(securitySqlFiles).sort()).toEqual([...SECURITY_SQL_FILES].sort());
  });

  it('are what the newest generated migration applies (run `npm run db:security-sql` after a change)', () => {
    const generated = migrations.filter((migration) => migration.text.startsWith(SECURITY_SQL_HEADER));
    expect(generated.length).toBeGreaterThanOrEqual(1);
    expect(generated.at(-1)?.text).toBe(renderSecuritySqlMigration(securitySqlFiles));
  });

  it('reach the database: drizzle applies the journal in order and skips an entry older than the last one applied', () => {
    expect(journal.entries.map((entry) => entry.tag)).toEqual(migrations.map((migration) => migration.tag));
    const whens = journal.entries.map((entry) => entry.when);
    expect(whens).toEqual([...whens].sort((a, b) => a - b));
    expect(new Set(whens).size).toBe(whens.length);
  });

  it('define every function of the migrated database, with the same body, signature, owner and privileges', async () => {
    const { fromFiles, live } = await functionsFromFilesAndLive(securitySqlFiles);
    expect(live.length).toBeGreaterThanOrEqual(16);
    expect(fromFiles.map((fn) => fn.signature)).toEqual(live.map((fn) => fn.signature));
    for (const fn of fromFiles) expect(fn, fn.signature).toEqual(live.find((other) => other.signature === fn.signature));
  });

  it('tells a changed body, a changed privilege and a missing function apart from the live ones', async () => {
    const gate = securitySqlFiles['gate.sql'] ?? '';
    const apiKeys = securitySqlFiles['api-keys.sql'] ?? '';
    const refresh = securitySqlFiles['refresh.sql'] ?? '';
    const changed = {
      ...securitySqlFiles,
      'gate.sql': gate.replace("RAISE EXCEPTION 'permission denied'", "RAISE EXCEPTION 'permission  denied'"),
      'api-keys.sql': apiKeys.replace(/^GRANT EXECUTE .*$/m, ''),
      'refresh.sql': refresh.replace(/CREATE OR REPLACE FUNCTION refresh_rotate[\s\S]*?END \$\$;/, ''),
    };
    const { fromFiles, live } = await functionsFromFilesAndLive(changed);
    const differing = live
      .filter((fn) => JSON.stringify(fn) !== JSON.stringify(fromFiles.find((other) => other.signature === fn.signature)))
      .map((fn) => fn.signature);
    expect(differing).toEqual(['api_key_authenticate(p_key_hash text)', 'api_key_touch(p_key_id uuid)', 'app_enter(p_org uuid, p_actor jsonb, p_org_roles text[], p_project uuid, p_project_roles text[])', 'refresh_rotate(p_hash text, p_next_hash text, p_grace interval)']);
  });
});

describe('app_secure_tenant_table', () => {
  const table = 'tenant_table_check';

  it('gives a new table every piece the tenant-table test checks, and they work for the runtime role', async () => {
    const owner = await createUser();
    const [mine, theirs] = await Promise.all([createOrg(owner), createOrg(owner)]);
    const outcome = await rolledBack(async (tx) => {
      await tx.execute(sql.raw(`create table ${table} (id uuid primary key default gen_random_uuid(), org_id uuid not null, n bigserial, name text)`));
      await tx.execute(sql`select app_secure_tenant_table(${table}, 'widget')`);
      const { rows: [facts] } = await tx.execute<TenantTableFacts & Record<string, unknown>>(tenantTableFacts({ name: table, orgColumn: 'org_id' }));
      const { rows: [sequence] } = await tx.execute<{ usage: boolean }>(sql`select has_sequence_privilege('app_runtime', pg_get_serial_sequence(${table}, 'n'), 'USAGE') as usage`);
      // Now as the Worker: the org comes from the request context, like after the gate.
      await tx.execute(sql.raw(`set local role app_runtime`));
      await tx.execute(sql`select set_config('app.org_id', ${mine.id}, true)`);
      const { rows: [row] } = await tx.execute<{ id: string }>(sql`insert into ${sql.identifier(table)} (org_id, name) values (${mine.id}, 'mine') returning id`);
      const { rows: audit } = await tx.execute<{ action: string; target_id: string }>(sql`select action, target_id from audit_logs where org_id = ${mine.id} and target_type = 'widget'`);
      const smuggled = await tx
        .execute(sql`insert into ${sql.identifier(table)} (org_id, name) values (${theirs.id}, 'theirs')`)
        .then(() => 'inserted', (error: unknown) => sqlState(error));
      return { facts, sequence, row, audit, smuggled };
    });
    expect(outcome.facts).toMatchObject({ enabled: true, forced: true, orgPolicy: true, runtimeGrants: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'] });
    expect(outcome.facts?.auditTrigger).toContain(`ON public.${table} FOR EACH ROW EXECUTE FUNCTION audit_row_change('widget', 'id', 'org_id')`);
    expect(outcome.sequence).toEqual({ usage: true });
    expect(outcome.audit).toEqual([{ action: 'widget.created', target_id: outcome.row?.id }]);
    expect(outcome.smuggled).toBe('42501');
  });

  it('refuses a table without the org column, and the runtime role may not call it', async () => {
    const noOrg = await rolledBack(async (tx) => {
      await tx.execute(sql.raw(`create table ${table} (id uuid primary key)`));
      await tx.execute(sql`select app_secure_tenant_table(${table}, 'widget')`);
    }).then(() => 'secured', (error: unknown) => String(error instanceof Error ? (error.cause ?? error) : error));
    expect(noOrg).toMatch(/has no column org_id/);
    const asRuntime = await rolledBack(async (tx) => {
      await tx.execute(sql.raw(`set local role app_runtime`));
      await tx.execute(sql`select app_secure_tenant_table('projects', 'project')`);
    }).then(() => 'called', (error: unknown) => sqlState(error));
    expect(asRuntime).toBe('42501');
  });
});
