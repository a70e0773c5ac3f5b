import { sql } from 'drizzle-orm';
import type { Database, HttpDatabase } from '../db/client.ts';
import { IDEMPOTENCY_TTL_HOURS, type IdempotencySecrets } from '../lib/idempotency.ts';

// The SQL of idempotency keys (src/db/sql/idempotency.sql); middleware/idempotency.ts decides when each runs.

/** Claims the key for the gate's caller, or raises (reused, in use, or its stored answer): sent right after the gate. */
export const claimIdempotencyKey = (secrets: IdempotencySecrets) => sql`select app_idempotency_claim(${secrets.keyHash}, ${secrets.fingerprint})`;

/** Stores the sealed answer of a claim whose work committed (no gate: the request may have ended its own grant). */
export function completeIdempotencyKey(db: Database, actorId: string, secrets: IdempotencySecrets, sealed: string) {
  return db.http.execute(sql`select app_idempotency_complete(${actorId}::uuid, ${secrets.keyHash}, ${secrets.fingerprint}, ${sealed})`);
}

/** Gives up the open claim of a request that answered 503, so a retry runs again (no gate, like completing). */
export function releaseIdempotencyKey(db: Database, actorId: string, secrets: IdempotencySecrets) {
  return db.http.execute(sql`select app_idempotency_release(${actorId}::uuid, ${secrets.keyHash}, ${secrets.fingerprint})`);
}

/** Stores the sealed refusal of work whose transaction rolled back; behind the gate, in a batch. */
export function recordIdempotencyKey(db: HttpDatabase, secrets: IdempotencySecrets, sealed: string) {
  return db.execute(sql`select app_idempotency_record(${secrets.keyHash}, ${secrets.fingerprint}, ${sealed})`);
}

/** Deletes keys claimed more than the TTL before `now` (never one within its 24 hours); returns how many. */
export async function pruneIdempotencyKeys(db: Database, now: number): Promise<number> {
  const cutoff = new Date(now - IDEMPOTENCY_TTL_HOURS * 3_600_000).toISOString();
  const { rows } = await db.http.execute<{ removed: number }>(sql`select app_idempotency_prune(${cutoff}::timestamptz) as removed`);
  return rows[0]?.removed ?? 0;
}
