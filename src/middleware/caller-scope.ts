import type { MiddlewareHandler } from 'hono';
import { createScopedDatabase, type Gate, type ScopedDatabase } from '../db/tenant.ts';
import type { KindEnv } from '../env.ts';
import type { AuthVariables } from './auth.ts';
import { gated, requestDatabase } from './database.ts';
import { requestMeta } from './request-meta.ts';

export type CallerVariables = {
  /**
   * The caller's own gated handle, for reads of their own grant (a key's row in its org, a user's own
   * profile) — never another tenant's data. A batch on it carries the gate, so such a read is one round trip.
   */
  caller: ScopedDatabase;
};

/**
 * The authorization of caller routes (any authenticated caller, for data that is not a tenant's, e.g. the
 * flags evaluated for them, or their own grant): the response leaves only if the grant is live — a user's
 * session (logout, deactivation) or an API key (revocation, expiry) — so no request is admitted on a revoked
 * grant. A handler that queries nothing is gated after it runs.
 */
export function callerScope(): MiddlewareHandler<KindEnv<AuthVariables & CallerVariables>> {
  return async function callerScope(c, next) {
    const actor = c.var.actor;
    // For a key, app_enter checks only that it is live and its org's; the permission names no scope here.
    const gate: Gate = actor.type === 'user' ? { kind: 'user' } : { kind: 'org', orgId: actor.orgId, permission: 'org:read' };
    const scoped = createScopedDatabase(requestDatabase(c), actor, requestMeta(c), gate);
    c.set('caller', scoped);
    await gated(c, scoped, next);
  };
}
