import { and, isNotNull, lt, or, sql } from 'drizzle-orm';
import { emailTokens, heartbeats, sessions } from '../../src/db/schema/index.ts';
import { log } from '../../src/lib/log.ts';
import { pruneDeadLetters } from '../../src/services/job-failures.ts';
import type { TaskContext } from './types.ts';

export const DEAD_LETTER_RETENTION_DAYS = 30;
export const HEARTBEAT_RETENTION_DAYS = 7;
/** Ended sessions are kept this long (for "where was I signed in" questions), then deleted with their refresh tokens. */
export const ENDED_SESSION_RETENTION_DAYS = 30;

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

/**
 * Deletes sessions that expired or were revoked long ago (their refresh tokens go with them, by
 * cascade) and email tokens past their expiry. Live credentials are never touched.
 */
export async function pruneCredentials({ db, scheduledTime }: TaskContext): Promise<void> {
  const cutoff = sql`${new Date(scheduledTime - ENDED_SESSION_RETENTION_DAYS * 86_400_000).toISOString()}::timestamptz`;
  const now = sql`${new Date(scheduledTime).toISOString()}::timestamptz`;
  const [endedSessions, spentTokens] = await db.http.batch([
    db.http
      .delete(sessions)
      .where(or(lt(sessions.expiresAt, cutoff), and(isNotNull(sessions.revokedAt), lt(sessions.revokedAt, cutoff))))
      .returning({ id: sessions.id }),
    db.http.delete(emailTokens).where(lt(emailTokens.expiresAt, now)).returning({ tokenHash: emailTokens.tokenHash }),
  ]);
  log('info', 'pruned credentials', { sessions: endedSessions.length, emailTokens: spentTokens.length });
}
