import { sql } from 'drizzle-orm';
import { log } from '../../src/lib/log.ts';
import { enqueueJob } from '../../src/services/jobs.ts';
import { enqueueDeliveries } from '../../src/services/webhook-fanout.ts';
import type { TaskContext } from './types.ts';

/** Orgs and messages handled per run; the next run takes the rest. */
const SWEEP_LIMIT = 500;
/** A pending message this long past due has lost its queue message (a lease runs out the same way). */
const STALE_AFTER_MS = 120_000;

/**
 * The safety net under the prompt path (a fan-out job sent after every org write): fans out every org whose
 * endpoints are behind its audit head, and sends again the deliveries whose queue message was lost. Both are
 * idempotent (unique messages per entry; the attempt guard), so a sweep that races the prompt path is harmless.
 */
export async function sweepWebhooks({ env, db, scheduledTime }: TaskContext): Promise<void> {
  const before = new Date(scheduledTime - STALE_AFTER_MS).toISOString();
  const [behind, stale] = await db.http.batch([
    db.http.execute<{ org_id: string }>(sql`select webhook_orgs_behind(${SWEEP_LIMIT}) as org_id`),
    db.http.execute<{ org_id: string; id: string; attempts: number }>(sql`select * from webhook_stale_messages(${before}::timestamptz, ${SWEEP_LIMIT})`),
  ]);
  await Promise.all(behind.rows.map((row) => enqueueJob(env.JOBS, 'webhooks.fanout', { orgId: row.org_id })));
  await Promise.all(stale.rows.map((row) => enqueueDeliveries(env.JOBS, row.org_id, [row])));
  log('info', 'webhook sweep', { orgs: behind.rows.length, stale: stale.rows.length });
}
