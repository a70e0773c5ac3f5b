import type { RouteHandler } from '@hono/zod-openapi';
import { and, eq, sql } from 'drizzle-orm';
import { sqlState } from '../../db/errors.ts';
import { apiKeys } from '../../db/schema/index.ts';
import { ApiError } from '../../errors.ts';
import { decodeCursor, exactTimestamp, keysetAfter, keysetOrderBy, takePage, type KeyPart } from '../../lib/pagination.ts';
import { orgRolesFor } from '../../lib/permissions.ts';
import { callerHoldsScopes, contestedScopes, generateApiKey, scopeGates } from '../../services/api-keys.ts';
import type { createApiKey, listApiKeys, revokeApiKey, rotateApiKey } from './api-keys.routes.ts';
import { apiKeyCursor, DEFAULT_GRACE_SECONDS, toApiKey } from './api-keys.schemas.ts';

/**
 * One round trip, one transaction: the route's gate; for a project key, a gate on that project (404 if it is
 * not a live project of the org); one gate per scope role-set proving the caller's role holds every scope
 * (403); then the insert, whose audit entry the trigger writes. Any refusal rolls everything back.
 */
export const createApiKeyHandler: RouteHandler<typeof createApiKey> = async (c) => {
  const { orgId } = c.req.valid('param');
  const { name, scopes, projectId, expiresAt } = c.req.valid('json');
  const actor = c.var.actor;
  if (actor.type === 'api_key') {
    const beyond = scopes.filter((scope) => !actor.scopes.includes(scope));
    if (beyond.length > 0) throw new ApiError('FORBIDDEN', 'An API key can only create keys with scopes it holds itself.', { scopes: beyond });
  }
  const { key, prefix, keyHash } = await generateApiKey(c.var.config);
  const [firstCheck, ...moreChecks] = [
    ...(projectId ? [c.var.tenant.check({ kind: 'org', orgId, permission: 'api_keys:write', projectId })] : []),
    ...scopeGates(c.var.tenant, orgId, scopes),
  ];
  if (!firstCheck) throw new Error('a key has at least one scope, so at least one check');
  const values = {
    orgId,
    projectId: projectId ?? null,
    name,
    prefix,
    keyHash,
    scopes,
    expiresAt: expiresAt ? new Date(expiresAt) : null,
    createdBy: actor.type === 'user' ? actor.id : null,
  };
  // The checks run before the insert, so a foreign project is refused by its gate (404), not by the foreign key.
  const results = await c.var.tenant
    .batch((db) => [db.execute(firstCheck), ...moreChecks.map((check) => db.execute(check)), db.insert(apiKeys).values(values).returning()] as const)
    .catch((error: unknown) => {
      // The gate cannot say which check refused; if a scope could have been the reason, say so.
      const contested = contestedScopes(orgRolesFor('api_keys:write'), scopes);
      if (sqlState(error) === 'AP403' && contested.length > 0) {
        throw new ApiError('FORBIDDEN', 'You do not have permission to do this. An API key can only carry permissions your own role holds.', { scopes: contested });
      }
      throw error;
    });
  const rows = last(results);
  const row = rows[0];
  if (!row) throw new Error('insert returned no row');
  c.header('Cache-Control', 'no-store');
  return c.json({ data: { ...toApiKey(row), key } }, 201);
};

/** The last element of a tuple, typed as such. */
function last<T>(items: readonly [...unknown[], T]): T {
  return items[items.length - 1] as T;
}

const newestFirst: KeyPart[] = [
  { expression: apiKeys.createdAt, direction: 'desc' },
  { expression: apiKeys.id, direction: 'desc' },
];

export const listApiKeysHandler: RouteHandler<typeof listApiKeys> = async (c) => {
  const { orgId } = c.req.valid('param');
  const { limit, cursor } = c.req.valid('query');
  const after = cursor ? decodeCursor(cursor, apiKeyCursor) : undefined;
  const [rows] = await c.var.tenant.batch((db) => [
    db
      .select({ key: apiKeys, keyText: exactTimestamp(apiKeys.createdAt) })
      .from(apiKeys)
      .where(and(eq(apiKeys.orgId, orgId), after ? keysetAfter(newestFirst, after) : undefined))
      .orderBy(...keysetOrderBy(newestFirst))
      .limit(limit + 1),
  ]);
  const page = takePage(rows, limit, (row) => [row.keyText, row.key.id]);
  return c.json({ data: page.items.map((row) => toApiKey(row.key)), meta: { nextCursor: page.nextCursor, limit } }, 200);
};

/**
 * One round trip: read the key's state, then rotate it only if it is live and the caller holds all its
 * scopes (so an admin cannot mint a fresh secret for an owner's `org:delete` key). The read explains a
 * refusal without a second query.
 */
export const rotateApiKeyHandler: RouteHandler<typeof rotateApiKey> = async (c) => {
  const { keyId } = c.req.valid('param');
  // Without a JSON body the validator yields {}, defaults unapplied: apply the default here.
  const graceSeconds = c.req.valid('json').gracePeriodSeconds ?? DEFAULT_GRACE_SECONDS;
  const { key, prefix, keyHash } = await generateApiKey(c.var.config);
  const live = sql`${apiKeys.revokedAt} is null and (${apiKeys.expiresAt} is null or ${apiKeys.expiresAt} > now())`;
  const [before, rotated] = await c.var.tenant.batch((db) => [
    db.select({ revokedAt: apiKeys.revokedAt, expiresAt: apiKeys.expiresAt }).from(apiKeys).where(eq(apiKeys.id, keyId)),
    db
      .update(apiKeys)
      .set({
        keyHash,
        prefix,
        previousKeyHash: sql`${apiKeys.keyHash}`,
        previousExpiresAt: sql`now() + make_interval(secs => ${graceSeconds})`,
        updatedAt: sql`now()`,
      })
      .where(and(eq(apiKeys.id, keyId), live, callerHoldsScopes(c.var.actor, sql`${apiKeys.scopes}`)))
      .returning(),
  ]);
  const state = before[0];
  if (!state) throw new ApiError('NOT_FOUND', 'API key not found.');
  const row = rotated[0];
  if (!row) {
    if (state.revokedAt) throw new ApiError('CONFLICT', 'This key is revoked; create a new one.');
    if (state.expiresAt && state.expiresAt <= new Date()) throw new ApiError('CONFLICT', 'This key has expired; create a new one.');
    throw new ApiError('FORBIDDEN', 'This key has scopes your role does not hold, so you cannot rotate it.');
  }
  c.header('Cache-Control', 'no-store');
  return c.json({ data: { ...toApiKey(row), key } }, 200);
};

/** One round trip. Idempotent: a revoked key keeps its first `revoked_at`, and no second audit entry is written. */
export const revokeApiKeyHandler: RouteHandler<typeof revokeApiKey> = async (c) => {
  const { keyId } = c.req.valid('param');
  const [rows] = await c.var.tenant.batch((db) => [
    db
      .update(apiKeys)
      .set({
        revokedAt: sql`coalesce(${apiKeys.revokedAt}, now())`,
        updatedAt: sql`case when ${apiKeys.revokedAt} is null then now() else ${apiKeys.updatedAt} end`,
      })
      .where(eq(apiKeys.id, keyId))
      .returning({ id: apiKeys.id }),
  ]);
  if (!rows[0]) throw new ApiError('NOT_FOUND', 'API key not found.');
  return c.body(null, 204);
};
