import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { usageDaily } from '../../src/db/schema/index.ts';
import { recordUsageEvents } from '../../src/services/usage.ts';
import { schedule } from '../../workers/scheduled.ts';
import { createUsagePartitions, dropExpiredUsagePartitions, finalizeUsageRollups, refreshUsageRollups } from '../../workers/tasks/usage.ts';
import { createOrg, createUser, ownerDb } from '../helpers/factories.ts';
import { env, testDb } from '../helpers/worker.ts';

const db = testDb();
const at = (iso: string) => Date.parse(iso);

/** The raw events' partitions of one year, by name. */
async function partitionsOf(year: number): Promise<string[]> {
  const { rows } = await ownerDb.http.execute<{ name: string }>(sql`
    select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
    where i.inhparent = 'usage_events'::regclass and c.relname like ${`usage_events_${year}_%`} order by 1`);
  return rows.map((row) => row.name);
}

describe('usage partitions (cron, with the cron’s scheduledTime as the clock)', () => {
  it('creates this month and the next two, across a month (and year) boundary, and is idempotent', async () => {
    await createUsagePartitions({ env, db, scheduledTime: at('1991-12-31T23:59:59.999Z') });
    expect([...(await partitionsOf(1991)), ...(await partitionsOf(1992))]).toEqual(['usage_events_1991_12', 'usage_events_1992_01', 'usage_events_1992_02']);
    await createUsagePartitions({ env, db, scheduledTime: at('1991-12-31T23:59:59.999Z') });
    await createUsagePartitions({ env, db, scheduledTime: at('1992-01-01T00:00:00.000Z') });
    expect([...(await partitionsOf(1991)), ...(await partitionsOf(1992))]).toEqual(['usage_events_1991_12', 'usage_events_1992_01', 'usage_events_1992_02', 'usage_events_1992_03']);
    // Each partition holds exactly its month (UTC): the last instant of December and the first of January part ways.
    const org = await createOrg(await createUser());
    await recordUsageEvents(db, [
      { id: crypto.randomUUID(), orgId: org.id, at: '1991-12-31T23:59:59.999Z', source: 'product', name: 'dec' },
      { id: crypto.randomUUID(), orgId: org.id, at: '1992-01-01T00:00:00.000Z', source: 'product', name: 'jan' },
    ], new Date('1900-01-01T00:00:00Z'));
    const { rows } = await ownerDb.http.execute<{ partition: string; name: string }>(
      sql`select tableoid::regclass::text as partition, name from usage_events where org_id = ${org.id}::uuid order by created_at`,
    );
    expect(rows).toEqual([{ partition: 'usage_events_1991_12', name: 'dec' }, { partition: 'usage_events_1992_01', name: 'jan' }]);
  });

  it('drops the months past USAGE_RETENTION_MONTHS and nothing younger; rollups stay', async () => {
    await createUsagePartitions({ env, db, scheduledTime: at('1985-01-15T00:00:00Z') });
    const org = await createOrg(await createUser());
    await recordUsageEvents(db, [{ id: crypto.randomUUID(), orgId: org.id, at: '1985-01-10T00:00:00.000Z', source: 'product', name: 'old', userId: crypto.randomUUID() }], new Date('1900-01-01T00:00:00Z'));
    await ownerDb.http.execute(sql`select app_usage_refresh_day('1985-01-10')`);
    expect(await partitionsOf(1985)).toEqual(['usage_events_1985_01', 'usage_events_1985_02', 'usage_events_1985_03']);
    const threeMonths = { ...env, USAGE_RETENTION_MONTHS: '3' } as Env;
    // April 1985 keeps April and three full months before it: nothing goes yet.
    await dropExpiredUsagePartitions({ env: threeMonths, db, scheduledTime: at('1985-04-30T23:59:59Z') });
    expect(await partitionsOf(1985)).toHaveLength(3);
    // From May 1st, January is past retention.
    await dropExpiredUsagePartitions({ env: threeMonths, db, scheduledTime: at('1985-05-01T00:00:00Z') });
    expect(await partitionsOf(1985)).toEqual(['usage_events_1985_02', 'usage_events_1985_03']);
    await dropExpiredUsagePartitions({ env: threeMonths, db, scheduledTime: at('1985-05-01T00:00:00Z') });
    expect(await partitionsOf(1985)).toEqual(['usage_events_1985_02', 'usage_events_1985_03']);
    // The day's rollup outlives its raw events, and refreshing it again leaves it alone.
    await refreshUsageRollups({ env, db, scheduledTime: at('1985-01-10T12:00:00Z') });
    const [row] = await ownerDb.http.select().from(usageDaily).where(sql`${usageDaily.orgId} = ${org.id}::uuid`);
    expect(row).toMatchObject({ day: '1985-01-10', productEvents: 1, activeUsers: 1 });
    // The current month's partition is never dropped by the default retention (13 months); nor by a cron time far
    // ahead (the database bounds the cutoff by its own clock).
    await createUsagePartitions({ env, db, scheduledTime: Date.now() });
    await dropExpiredUsagePartitions({ env, db, scheduledTime: Date.now() });
    await dropExpiredUsagePartitions({ env: threeMonths, db, scheduledTime: at('9999-01-01T00:00:00Z') });
    const now = new Date();
    expect(await partitionsOf(now.getUTCFullYear())).toContain(`usage_events_${now.getUTCFullYear()}_${String(now.getUTCMonth() + 1).padStart(2, '0')}`);
  });

  it('refreshes today every 5 minutes and yesterday and the day before once a day', async () => {
    const org = await createOrg(await createUser());
    const events = ['1993-06-08', '1993-06-09', '1993-06-10'].map((day) => ({ id: crypto.randomUUID(), orgId: org.id, at: `${day}T12:00:00.000Z`, source: 'product' as const, name: day }));
    await recordUsageEvents(db, events, new Date('1900-01-01T00:00:00Z'));
    const days = async () => (await ownerDb.http.select({ day: usageDaily.day }).from(usageDaily).where(sql`${usageDaily.orgId} = ${org.id}::uuid`).orderBy(usageDaily.day)).map((row) => row.day);
    await refreshUsageRollups({ env, db, scheduledTime: at('1993-06-10T00:05:00Z') });
    expect(await days()).toEqual(['1993-06-10']);
    await finalizeUsageRollups({ env, db, scheduledTime: at('1993-06-10T03:17:00Z') });
    expect(await days()).toEqual(['1993-06-08', '1993-06-09', '1993-06-10']);
  });

  it('are on the calendar: rollups every 5 minutes; partitions, retention and the final rollups daily', () => {
    expect(schedule['*/5 * * * *']).toContain(refreshUsageRollups);
    expect(schedule['17 3 * * *']).toEqual(expect.arrayContaining([createUsagePartitions, dropExpiredUsagePartitions, finalizeUsageRollups]));
  });
});
