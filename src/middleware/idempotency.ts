import type { Context, MiddlewareHandler } from 'hono';
import { isTransientDatabaseError, sqlDetail, sqlState } from '../db/errors.ts';
import type { ScopedDatabase } from '../db/tenant.ts';
import type { AppEnv } from '../env.ts';
import { ApiError } from '../errors.ts';
import { describeError, log } from '../lib/log.ts';
import { idempotencySecrets, isIdempotencyKey, replayResponse, storedResponse, type IdempotencySecrets } from '../lib/idempotency.ts';
import { claimIdempotencyKey, completeIdempotencyKey, recordIdempotencyKey, releaseIdempotencyKey } from '../services/idempotency.ts';
import { requestDatabase } from './database.ts';

/**
 * `Idempotency-Key` on a write (README, "Idempotency keys"). The key is claimed by the statement the gated
 * handle sends right after the gate in the handler's first round trip, so the claim commits or rolls back
 * with the work: K concurrent duplicates make one effect, and the others get 409 (still running) or the
 * replay. Once the work committed, the answer is stored (one more round trip, before the response leaves);
 * a refusal by work whose transaction rolled back is stored too (behind the gate, so a caller the gate
 * refuses stores nothing); a request refused before it reached Postgres (validation) stores nothing.
 */
export function idempotency<E extends AppEnv>(handle: (c: Context<E>) => ScopedDatabase): MiddlewareHandler<E> {
  return async function idempotency(c, next) {
    const key = c.req.header('idempotency-key');
    if (key === undefined) return next();
    if (!isIdempotencyKey(key)) {
      const message = 'must be 1–255 printable ASCII characters, with no space at either end';
      throw new ApiError('VALIDATION_FAILED', 'Request validation failed.', { issues: [{ path: 'header.Idempotency-Key', code: 'invalid_format', message }] });
    }
    const scoped = handle(c);
    const url = new URL(c.req.url);
    const request = { method: c.req.method, path: url.pathname + url.search, body: c.req.raw.body === null ? '' : await c.req.text() };
    const secrets = await idempotencySecrets(c.var.config.TOKEN_SECRET, scoped.actor.id, key, request);
    scoped.attach(claimIdempotencyKey(secrets));
    await next();
    const outcome = scoped.attached;
    // Withdrawn whatever happened: no later round trip (the gate's backstop, the record below) may claim the key.
    scoped.attach(undefined);
    // A 503 after a committed round trip: a dependency (R2, a second round trip) failed before the work was
    // done, so the key is released for the retry the 503 asks for, rather than replaying the 503 for a day.
    if (outcome.state === 'committed') return c.res.status === 503 ? release(c, scoped, secrets) : complete(c, scoped, secrets);
    // Nothing reached Postgres (validation, a refusal before the handler, a handler without queries): nothing to store.
    if (outcome.state !== 'failed') return;
    const state = sqlState(outcome.error);
    if (state === 'APIDR') return replay(c, secrets, sqlDetail(outcome.error));
    if (state === 'APIDM' || state === 'APIDU' || c.res.status < 400 || c.res.status >= 500 || isTransientDatabaseError(outcome.error)) return;
    await record(c, scoped, secrets);
  };
}

async function complete<E extends AppEnv>(c: Context<E>, scoped: ScopedDatabase, secrets: IdempotencySecrets) {
  try {
    await completeIdempotencyKey(requestDatabase(c), scoped.actor.id, secrets, await secrets.seal(await storedResponse(c.res)));
  } catch (error) {
    // The work committed and its answer goes out; retries with this key get 409 until the key expires.
    log('warn', 'idempotency answer not stored', { requestId: c.var.requestId, error: describeError(error) });
  }
}

async function release<E extends AppEnv>(c: Context<E>, scoped: ScopedDatabase, secrets: IdempotencySecrets) {
  try {
    await releaseIdempotencyKey(requestDatabase(c), scoped.actor.id, secrets);
  } catch (error) {
    // The key answers 409 until it expires; the 503 told the client the outcome is unknown anyway.
    log('warn', 'idempotency claim not released', { requestId: c.var.requestId, error: describeError(error) });
  }
}

async function record<E extends AppEnv>(c: Context<E>, scoped: ScopedDatabase, secrets: IdempotencySecrets) {
  const sealed = await secrets.seal(await storedResponse(c.res));
  try {
    await scoped.batch((db) => [recordIdempotencyKey(db, secrets, sealed)]);
  } catch {
    // The gate refused (the refusal was its own) or the database is away: a retry runs the request anew.
  }
}

async function replay<E extends AppEnv>(c: Context<E>, secrets: IdempotencySecrets, sealed: string | undefined) {
  const stored = sealed === undefined ? undefined : await secrets.open(sealed);
  // Unreadable only if TOKEN_SECRET changed in between, which also changes the key's hash: not reachable.
  if (stored) c.res = replayResponse(stored);
}
