import type { Context, MiddlewareHandler } from 'hono';
import { isTransientDatabaseError, sqlDetail, sqlState } from '../db/errors.ts';
import type { ScopedDatabase } from '../db/tenant.ts';
import type { AppEnv, KindEnv } from '../env.ts';
import { ApiError } from '../errors.ts';
import { describeError, log } from '../lib/log.ts';
import { idempotencySecrets, isIdempotencyKey, replayResponse, storedResponse, type IdempotencySecrets } from '../lib/idempotency.ts';
import { claimIdempotencyKey, completeIdempotencyKey, recordIdempotencyKey, releaseIdempotencyKey } from '../services/idempotency.ts';
import type { TenantVariables } from './authorize.ts';
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
    const key = requestKey(c);
    if (key === undefined) return next();
    const scoped = handle(c);
    const url = new URL(c.req.url);
    const request = { method: c.req.method, path: url.pathname + url.search, body: c.req.raw.body === null ? '' : await c.req.text() };
    const secrets = await idempotencySecrets(c.var.config.TOKEN_SECRET, scoped.actor.id, key, request);
    scoped.attach(claimIdempotencyKey(secrets));
    await next();
    await settle(c, scoped, secrets);
  };
}

/** What a streamed upload's handler is given when the request carries `Idempotency-Key` (see `uploadIdempotency`). */
export type UploadKeyVariables = {
  /** Attaches the key's claim to the handle's next round trip, fingerprinted with the stored bytes' type and SHA-256. */
  claimUploadKey?: (contentType: string, sha256: string) => Promise<void>;
};

/**
 * `Idempotency-Key` on a streamed upload (`POST /orgs/{orgId}/files`). The body is the file, never held whole,
 * so the middleware cannot fingerprint it: the handler calls `claimUploadKey` with the type and SHA-256 it
 * computed while storing the bytes, and the claim rides in its insert batch. The fingerprint covers the method,
 * the path with its query, the content type and the digest. A duplicate's batch rolls back (its handler then
 * removes its object) and it answers the replay, 409 or 422 as for JSON writes; a request refused before its
 * bytes were stored (type, size, quota) claimed nothing and stores nothing.
 */
export function uploadIdempotency(): MiddlewareHandler<KindEnv<TenantVariables & UploadKeyVariables>> {
  return async function uploadIdempotency(c, next) {
    const key = requestKey(c);
    if (key === undefined) return next();
    const scoped = c.var.tenant;
    let secrets: IdempotencySecrets | undefined;
    c.set('claimUploadKey', async (contentType, sha256) => {
      const url = new URL(c.req.url);
      const request = { method: c.req.method, path: url.pathname + url.search, body: `content-type: ${contentType}\nsha-256: ${sha256}` };
      secrets = await idempotencySecrets(c.var.config.TOKEN_SECRET, scoped.actor.id, key, request);
      scoped.attach(claimIdempotencyKey(secrets));
    });
    await next();
    if (secrets) await settle(c, scoped, secrets);
  };
}

/** The request's `Idempotency-Key`, undefined without one; a malformed key is a 400 before anything runs. */
function requestKey(c: Context): string | undefined {
  const key = c.req.header('idempotency-key');
  if (key === undefined || isIdempotencyKey(key)) return key;
  const message = 'must be 1–255 printable ASCII characters, with no space at either end';
  throw new ApiError('VALIDATION_FAILED', 'Request validation failed.', { issues: [{ path: 'header.Idempotency-Key', code: 'invalid_format', message }] });
}

/** After the handler: stores, releases, records or replays, by what became of the claim. */
async function settle<E extends AppEnv>(c: Context<E>, scoped: ScopedDatabase, secrets: IdempotencySecrets) {
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
