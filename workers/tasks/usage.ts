import { sql } from 'drizzle-orm';
import { getConfig } from '../../src/config.ts';
import { log } from '../../src/lib/log.ts';
import { refreshUsageDay, utcDay } from '../../src/services/usage.ts';
import type { TaskContext } from './types.ts';

// The analytics part of the maintenance calendar (README, "Usage analytics"). Each task is one idempotent call
// into src/db/sql/usage.sql, driven by the cron's `scheduledTime`, never the clock.

/** Months of partitions kept ready: the current one and the next two. */
export const PARTITIONS_AHEAD = 3;

/** Creates the raw events' monthly partitions for this month and the next two (those missing). */
export async function createUsagePartitions({ db, scheduledTime }: TaskContext): Promise<void> {
  const { rows } = await db.http.execute<{ created: number }>(
    sql`select app_usage_ensure_partitions(${new Date(scheduledTime).toISOString()}::timestamptz, ${PARTITIONS_AHEAD}) as created`,
  );
  log('info', 'usage partitions ensured', { created: Number(rows[0]?.created ?? 0) });
}

/** Drops the partitions of months past USAGE_RETENTION_MONTHS (the rollups stay). */
export async function dropExpiredUsagePartitions({ env, db, scheduledTime }: TaskContext): Promise<void> {
  const keep = getConfig(env).USAGE_RETENTION_MONTHS;
  const { rows } = await db.http.execute<{ dropped: string[] }>(
    sql`select app_usage_drop_partitions(${new Date(scheduledTime).toISOString()}::timestamptz, ${keep}) as dropped`,
  );
  log('info', 'usage partitions past retention dropped', { dropped: rows[0]?.dropped ?? [], keepMonths: keep });
}

/** Every 5 minutes: today's rollups (UTC) from the raw events so far. */
export async function refreshUsageRollups({ db, scheduledTime }: TaskContext): Promise<void> {
  const day = utcDay(scheduledTime);
  log('info', 'usage rollups refreshed', { day, orgs: await refreshUsageDay(db, day) });
}

/** Daily: yesterday's and the day before's rollups once more, with the events that arrived late (queue retries). */
export async function finalizeUsageRollups({ db, scheduledTime }: TaskContext): Promise<void> {
  for (const day of [utcDay(scheduledTime, -2), utcDay(scheduledTime, -1)]) {
    log('info', 'usage rollups finalized', { day, orgs: await refreshUsageDay(db, day) });
  }
}
