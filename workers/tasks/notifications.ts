import { sql } from 'drizzle-orm';
import { FILE_LIMITS } from '../../src/lib/limits.ts';
import { log } from '../../src/lib/log.ts';
import { KEY_EXPIRY_WARNING_DAYS, NOTIFICATION_RETENTION_DAYS, STORAGE_WARNING_RATIO } from '../../src/lib/notification-categories.ts';
import { enqueueJob } from '../../src/services/jobs.ts';
import type { TaskContext } from './types.ts';

/**
 * Keys and orgs handled per run; the next daily run takes the rest: what was delivered is skipped, including to a
 * recipient who is not told (the delivery job records a silent row), so the batch cannot fill with the same people.
 */
const BATCH = 500;

/** Options of the daily notification tasks; tests shrink the batch. */
export interface NotifyOptions {
  batch?: number;
}

/**
 * Daily: API keys expiring within 7 days of the cron's time → a notification to their creator, once per key (the
 * query skips keys already notified; the job's dedupe key `api_key.expiring:<key>` holds if two runs race).
 */
export async function notifyExpiringApiKeys({ env, db, scheduledTime }: TaskContext, { batch = BATCH }: NotifyOptions = {}): Promise<void> {
  const from = new Date(scheduledTime).toISOString();
  const until = new Date(scheduledTime + KEY_EXPIRY_WARNING_DAYS * 86_400_000).toISOString();
  const { rows } = await db.http.execute<{ key_id: string; org_id: string; name: string; expires_at: string; user_id: string }>(
    sql`select key_id, org_id, name, to_char(expires_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as expires_at, user_id
      from app_api_keys_expiring(${from}::timestamptz, ${until}::timestamptz, ${batch})`,
  );
  await Promise.all(
    rows.map((row) =>
      enqueueJob(env.JOBS, 'notifications.deliver', { type: 'api_key.expiring', orgId: row.org_id, keyId: row.key_id, userId: row.user_id, name: row.name.slice(0, 200), expiresAt: row.expires_at }),
    ),
  );
  log('info', 'expiring api keys notified', { keys: rows.length });
}

/** The month of the cron's time (UTC), `YYYY-MM`: storage warnings are once per org and month. */
export const monthOf = (time: number) => new Date(time).toISOString().slice(0, 7);

/** Daily: orgs storing ≥ 80 % of their storage quota → their owners and admins, once per org and month. */
export async function notifyStorageNearQuota({ env, db, scheduledTime }: TaskContext, { batch = BATCH }: NotifyOptions = {}): Promise<void> {
  const month = monthOf(scheduledTime);
  const { rows } = await db.http.execute<{ org_id: string; used_bytes: string; limit_bytes: string; user_ids: string[] }>(
    sql`select org_id, used_bytes, limit_bytes, user_ids::text[] as user_ids from app_orgs_near_storage_quota(${JSON.stringify(FILE_LIMITS)}::jsonb, ${STORAGE_WARNING_RATIO}, ${month}, ${batch})`,
  );
  await Promise.all(
    rows.map((row) =>
      enqueueJob(env.JOBS, 'notifications.deliver', {
        type: 'storage.near_quota',
        orgId: row.org_id,
        month,
        usedBytes: Number(row.used_bytes),
        limitBytes: Number(row.limit_bytes),
        userIds: row.user_ids.slice(0, 1000),
      }),
    ),
  );
  log('info', 'storage warnings notified', { orgs: rows.length });
}

/** Rows deleted per run; a backlog drains over the next days. */
const PRUNE_BATCH = 10_000;

/**
 * Daily: deletes notifications past NOTIFICATION_RETENTION_DAYS (of the cron's time). Idempotent. The database
 * never deletes one younger than that by its own clock, whatever the time given.
 */
export async function pruneNotifications({ db, scheduledTime }: TaskContext): Promise<void> {
  const before = new Date(scheduledTime - NOTIFICATION_RETENTION_DAYS * 86_400_000).toISOString();
  const { rows } = await db.http.execute<{ removed: number }>(sql`select app_prune_notifications(${before}::timestamptz, ${PRUNE_BATCH}) as removed`);
  log('info', 'pruned notifications', { removed: rows[0]?.removed ?? 0 });
}
