import { lt, sql } from 'drizzle-orm';
import { heartbeats } from '../../src/db/schema/index.ts';
import { log } from '../../src/lib/log.ts';
import { pruneDeadLetters } from '../../src/services/job-failures.ts';
import type { TaskContext } from './types.ts';

export const DEAD_LETTER_RETENTION_DAYS = 30;
export const HEARTBEAT_RETENTION_DAYS = 7;

/** Deletes dead letters past their retention. */
export async function pruneJobFailures({ db }: TaskContext): Promise<void> {
  const removed = await pruneDeadLetters(db, DEAD_LETTER_RETENTION_DAYS);
  log('info', 'pruned dead letters', { removed });
}

/** Deletes heartbeat rows past their retention. */
export async function pruneHeartbeats({ db, scheduledTime }: TaskContext): Promise<void> {
  const cutoff = new Date(scheduledTime - HEARTBEAT_RETENTION_DAYS * 86_400_000);
  const removed = await db.http.delete(heartbeats).where(lt(heartbeats.createdAt, sql`${cutoff.toISOString()}::timestamptz`)).returning({ id: heartbeats.id });
  log('info', 'pruned heartbeats', { removed: removed.length });
}
