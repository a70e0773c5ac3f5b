import type { Database } from '../../src/db/client.ts';

export interface TaskContext {
  env: Env;
  db: Database;
  /** When the cron fired (ms since epoch); tasks use it rather than the clock so reruns are stable. */
  scheduledTime: number;
}

/** A maintenance task: plain, idempotent, safe to run twice. */
export type MaintenanceTask = (context: TaskContext) => Promise<void>;
