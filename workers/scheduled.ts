import { createDatabase } from '../src/db/client.ts';
import { getConfig } from '../src/config.ts';
import { log } from '../src/lib/log.ts';
import { reportError } from '../src/services/error-reporting.ts';
import { cleanupFiles } from './tasks/files-cleanup.ts';
import { resyncFlags } from './tasks/flags-resync.ts';
import { enqueueHeartbeat } from './tasks/heartbeat.ts';
import { pruneExpiredIdempotencyKeys } from './tasks/idempotency-keys.ts';
import { notifyExpiringApiKeys, notifyStorageNearQuota, pruneNotifications } from './tasks/notifications.ts';
import { pruneCredentials, pruneHeartbeats, pruneJobFailures } from './tasks/prune.ts';
import type { MaintenanceTask } from './tasks/types.ts';
import { sweepWebhooks } from './tasks/webhooks.ts';
import { createUsagePartitions, dropExpiredUsagePartitions, finalizeUsageRollups, refreshUsageRollups } from './tasks/usage.ts';

/** Cron expression (exactly as in wrangler.toml `triggers.crons`) → the tasks it runs. */
export const schedule: Record<string, MaintenanceTask[]> = {
  '*/5 * * * *': [enqueueHeartbeat, resyncFlags, cleanupFiles, sweepWebhooks, refreshUsageRollups],
  '17 3 * * *': [
    pruneJobFailures,
    pruneHeartbeats,
    pruneCredentials,
    pruneExpiredIdempotencyKeys,
    notifyExpiringApiKeys,
    notifyStorageNearQuota,
    pruneNotifications,
    createUsagePartitions,
    dropExpiredUsagePartitions,
    finalizeUsageRollups,
  ],
};

/**
 * The Worker's scheduled handler. Tasks of one cron run concurrently and independently; if any
 * fails, the invocation throws after the others finish, so Cloudflare records the run as failed.
 */
export function createScheduledHandler(tasks: Record<string, MaintenanceTask[]> = schedule) {
  return async function scheduled(controller: ScheduledController, env: Env, ctx: ExecutionContext): Promise<void> {
    const config = getConfig(env);
    const waitUntil = (promise: Promise<unknown>) => ctx.waitUntil(promise);
    const db = createDatabase(config, waitUntil);
    const due = tasks[controller.cron];
    if (!due) {
      log('error', 'no tasks for cron', { cron: controller.cron });
      throw new Error(`No maintenance tasks are registered for cron "${controller.cron}"`);
    }
    const results = await Promise.allSettled(due.map((task) => task({ env, db, scheduledTime: controller.scheduledTime })));
    const failed = results.flatMap((result, index) => (result.status === 'rejected' ? [{ task: due[index]?.name, error: result.reason }] : []));
    for (const { task, error } of failed) {
      reportError(error, { dsn: config.SENTRY_DSN, environment: config.APP_ENV, waitUntil, tags: { cron: controller.cron, task: String(task) } });
    }
    log(failed.length ? 'error' : 'info', 'cron finished', { cron: controller.cron, tasks: due.map((task) => task.name), failed: failed.map((f) => f.task) });
    if (failed.length) throw new AggregateError(failed.map((f) => f.error), `${failed.length} maintenance task(s) failed`);
  };
}
