import { enqueueJob } from '../../src/services/jobs.ts';
import type { TaskContext } from './types.ts';

/** Enqueues a heartbeat job, exercising cron → queue → consumer → Postgres every few minutes. */
export async function enqueueHeartbeat({ env }: TaskContext): Promise<void> {
  await enqueueJob(env.JOBS, 'system.heartbeat', { source: 'cron' });
}
