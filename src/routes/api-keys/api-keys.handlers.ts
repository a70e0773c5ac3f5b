import type { RouteHandler } from '@hono/zod-openapi';
import { ApiError } from '../../errors.ts';
import { decodeCursor, takePage } from '../../lib/pagination.ts';
import { generateApiKey, issueApiKey, rotateApiKeySecret, selectApiKeyPage, selectApiKeyState, setApiKeyRevoked } from '../../services/api-keys.ts';
import type { createApiKey, listApiKeys, revokeApiKey, rotateApiKey } from './api-keys.routes.ts';
import { disconnectSockets } from '../../middleware/room-changes.ts';
import { apiKeyCursor, toApiKey } from './api-keys.schemas.ts';
import { DEFAULT_GRACE_SECONDS } from '../../lib/fields.ts';

/**
 * One round trip, one transaction: the route's gate; for a project key, a gate on that project (404 if it is
 * not a live project of the org); one gate per scope role-set proving the caller's role holds every scope
 * (403); then the insert, whose audit entry the trigger writes. Any refusal rolls everything back.
 */
export const createApiKeyHandler: RouteHandler<typeof createApiKey> = async (c) => {
  const { orgId } = c.req.valid('param');
  const { row, key } = await issueApiKey(c.var.tenant, c.var.config, orgId, c.req.valid('json'));
  return c.json({ data: { ...toApiKey(row), key } }, 201);
};

/** One round trip: gate and page, newest first. */
export const listApiKeysHandler: RouteHandler<typeof listApiKeys> = async (c) => {
  const { orgId } = c.req.valid('param');
  const { limit, cursor } = c.req.valid('query');
  const after = cursor ? decodeCursor(cursor, apiKeyCursor) : undefined;
  const [rows] = await c.var.tenant.batch((db) => [selectApiKeyPage(db, orgId, { limit, after })]);
  const page = takePage(rows, limit, (row) => [row.keyText, row.key.id]);
  return c.json({ data: page.items.map((row) => toApiKey(row.key)), meta: { nextCursor: page.nextCursor, limit } }, 200);
};

/**
 * One round trip: read the key's state, then rotate it only if it is live, no earlier secret is in its grace
 * period (409: a second rotation would cut that grace short) and the caller holds all its
 * scopes (so an admin cannot mint a fresh secret for an owner's `org:delete` key). The read explains a
 * refusal without a second query.
 */
export const rotateApiKeyHandler: RouteHandler<typeof rotateApiKey> = async (c) => {
  const { keyId } = c.req.valid('param');
  // Without a JSON body the validator yields {}, defaults unapplied: apply the default here.
  const graceSeconds = c.req.valid('json').gracePeriodSeconds ?? DEFAULT_GRACE_SECONDS;
  const { key, ...secret } = await generateApiKey(c.var.config);
  const [[state], [row]] = await c.var.tenant.batch((db) => [
    selectApiKeyState(db, keyId),
    rotateApiKeySecret(db, c.var.actor, keyId, secret, graceSeconds),
  ]);
  if (!state) throw new ApiError('NOT_FOUND', 'API key not found.');
  if (!row) {
    if (state.revokedAt) throw new ApiError('CONFLICT', 'This key is revoked; create a new one.');
    if (state.expiresAt && state.expiresAt <= new Date()) throw new ApiError('CONFLICT', 'This key has expired; create a new one.');
    if (state.previousExpiresAt && state.previousExpiresAt > state.now) {
      const until = state.previousExpiresAt.toISOString();
      throw new ApiError('CONFLICT', `The previous secret of this key works until ${until}; rotate again after that, or revoke the key and create a new one.`, {
        previousSecretExpiresAt: until,
      });
    }
    throw new ApiError('FORBIDDEN', 'This key has scopes your role does not hold, so you cannot rotate it.');
  }
  return c.json({ data: { ...toApiKey(row), key } }, 200);
};

/** One round trip. Idempotent: a revoked key keeps its first `revoked_at`, and no second audit entry is written. */
export const revokeApiKeyHandler: RouteHandler<typeof revokeApiKey> = async (c) => {
  const { keyId } = c.req.valid('param');
  const [revoked] = await c.var.tenant.batch((db) => [setApiKeyRevoked(db, keyId)]);
  if (revoked.length === 0) throw new ApiError('NOT_FOUND', 'API key not found.');
  await disconnectSockets(c, [c.req.valid('param').orgId], { keyId }, 'revoked');
  return c.body(null, 204);
};
