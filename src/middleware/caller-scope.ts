import type { MiddlewareHandler } from 'hono';
import { createScopedDatabase, type Gate } from '../db/tenant.ts';
import type { KindEnv } from '../env.ts';
import type { AuthVariables } from './auth.ts';
import { gated, requestDatabase } from './database.ts';
import { requestMeta } from './request-meta.ts';

/**
 * The authorization of caller routes (any authenticated caller, for data that is not a tenant's, e.g. the
 * flags evaluated for them): the handler gets no database, but the response still leaves only if the
 * grant is live — a user's session (logout, deactivation) or an API key (revocation, expiry) — so no
 * request is admitted on a revoked grant. The gate runs after the handler, which queries nothing.
 */
export function callerScope(): MiddlewareHandler<KindEnv<AuthVariables>> {
  return async function callerScope(c, next) {
    const actor = c.var.actor;
    // For a key, app_enter checks only that it is live and its org's; the permission names no scope here.
    const gate: Gate = actor.type === 'user' ? { kind: 'user' } : { kind: 'org', orgId: actor.orgId, permission: 'org:read' };
    await gated(c, createScopedDatabase(requestDatabase(c), actor, requestMeta(c), gate), next);
  };
}
