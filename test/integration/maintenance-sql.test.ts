import { sql, type SQL } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import type { Transaction } from '../../src/db/client.ts';
import { createOrg, createUser } from '../helpers/factories.ts';
import { rolledBack } from '../helpers/security-sql.ts';

/**
 * The maintenance functions the cron calls are SECURITY DEFINER and the runtime role (the Worker) may call them, so
 * their arguments are the caller's word. Called by that role with the most hostile arguments, they still lose
 * nothing recent: the database's own clock bounds them. Each test is rolled back, and the file runs in the clock
 * group: a drop or a prune reaches every org's rows.
 */

/** Runs `call` as the runtime role, then reads `check` back as the schema owner. */
async function asRuntime(tx: Transaction, call: SQL, check: SQL): Promise<{ called: Record<string, unknown> | undefined; rows: Array<Record<string, unknown>> }> {
  await tx.execute(sql.raw('set local role app_runtime'));
  const { rows: [called] } = await tx.execute<Record<string, unknown>>(call);
  await tx.execute(sql.raw('reset role'));
  const { rows } = await tx.execute<Record<string, unknown>>(check);
  return { called, rows };
}

/** An org's product event at `at` (a SQL expression), as the queue job's insert takes it. */
const event = (orgId: string, name: string, at: string) =>
  sql`jsonb_build_object('id', gen_random_uuid(), 'orgId', ${orgId}::uuid, 'at', ${sql.raw(at)}, 'source', 'product', 'name', ${name}::text)`;

const utcDay = (offset: string) => sql.raw(`((now() at time zone 'UTC') + interval '${offset}')::date`);

describe('maintenance functions called by the runtime role with hostile arguments', () => {
  it('app_usage_drop_partitions (a cutoff far ahead, one month kept) drops nothing of the current month or the 3 before it', async () => {
    const org = await createOrg(await createUser());
    const { called, rows } = await rolledBack(async (tx) => {
      await tx.execute(sql`select app_usage_ensure_partitions(now() - interval '7 months', 8)`);
      await tx.execute(sql`select app_usage_record(jsonb_build_array(${event(org.id, 'recent', "now() - interval '1 day'")}), '-infinity')`);
      return asRuntime(
        tx,
        sql`select app_usage_drop_partitions('infinity', 1) as dropped`,
        sql`select m as months_ago, to_regclass(app_usage_partition((now() at time zone 'UTC' - make_interval(months => m))::date)) is not null as present,
          (select count(*)::int from usage_events e where e.org_id = ${org.id}::uuid) as events
          from unnest(array[0, 1, 2, 3, 4, 7]) m order by m`,
      );
    });
    expect(rows.map((row) => [row.months_ago, row.present])).toEqual([[0, true], [1, true], [2, true], [3, true], [4, false], [7, false]]);
    expect(rows[0]?.events).toBe(1);
    expect(called?.dropped).toEqual(expect.arrayContaining([expect.stringMatching(/^usage_events_\d{4}_\d{2}$/)]));
  });

  it('app_usage_refresh_day leaves a day still to come alone, and a past day keeps the bytes stored when it was rolled up', async () => {
    const org = await createOrg(await createUser());
    const { called, rows } = await rolledBack(async (tx) => {
      await tx.execute(sql`select app_usage_record(jsonb_build_array(${event(org.id, 'recent', "now() - interval '1 day'")}, ${event(org.id, 'ahead', "now() + interval '2 days'")}), '-infinity')`);
      await tx.execute(sql`select app_usage_refresh_day(${utcDay('-1 day')})`);
      // The bytes the org stored when yesterday was rolled up (it stores none now).
      await tx.execute(sql`update usage_daily set storage_bytes = 12345 where org_id = ${org.id}::uuid`);
      return asRuntime(
        tx,
        sql`select app_usage_refresh_day(${utcDay('2 days')}) as ahead, app_usage_refresh_day(${utcDay('-1 day')}) as yesterday`,
        sql`select day > (now() at time zone 'UTC')::date as ahead, product_events, storage_bytes::text from usage_daily where org_id = ${org.id}::uuid order by day`,
      );
    });
    expect(called?.ahead).toBe(-1);
    expect(called?.yesterday).toBeGreaterThanOrEqual(1);
    expect(rows).toEqual([{ ahead: false, product_events: 1, storage_bytes: '12345' }]);
  });

  it('app_prune_notifications (a cutoff far ahead) deletes nothing younger than 180 days', async () => {
    const user = await createUser();
    const { called, rows } = await rolledBack(async (tx) => {
      await tx.execute(sql`insert into notifications (user_id, category, type, title, body, dedupe_key, created_at)
        select ${user.id}::uuid, 'membership', 'member.role_changed', 't', 'b', 'age:' || d, now() - make_interval(days => d) from unnest(array[1, 179, 181]) d`);
      return asRuntime(
        tx,
        sql`select app_prune_notifications('infinity', 1000000) as removed`,
        sql`select dedupe_key as key from notifications where user_id = ${user.id}::uuid order by created_at desc`,
      );
    });
    expect(rows.map((row) => row.key)).toEqual(['age:1', 'age:179']);
    expect(called?.removed).toBeGreaterThanOrEqual(1);
  });
});
