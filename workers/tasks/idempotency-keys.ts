import { log } from '../../src/lib/log.ts';
import { pruneIdempotencyKeys } from '../../src/services/idempotency.ts';
import type { TaskContext } from './types.ts';

/**
 * Deletes idempotency keys past their 24 hours. Only housekeeping: an expired key is already treated as new
 * when it comes back (app_idempotency_claim), so a late or skipped run changes no answer.
 */
export async function pruneExpiredIdempotencyKeys({ db, scheduledTime }: TaskContext): Promise<void> {
  const removed = await pruneIdempotencyKeys(db, scheduledTime);
  log('info', 'pruned idempotency keys', { removed });
}
