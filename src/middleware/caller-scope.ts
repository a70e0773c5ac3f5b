import type { MiddlewareHandler } from 'hono';
import { createScopedDatabase, type ScopedDatabase } from '../db/tenant.ts';
import type { KindEnv } from '../env.ts';
import type { OrgRouteClass } from '../lib/limits.ts';
import type { AuthVariables } from './auth.ts';
import { gated, requestDatabase } from './database.ts';
import { admitAtEdge } from './edge-admission.ts';
import { requestMeta } from './request-meta.ts';
import { runOnSession } from './user-admission.ts';

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
 * grant. A user is counted and admitted by their own edge authority, a key by its org's (as on the org's own
 * routes, against the org's limits): a warm grant needs no Postgres. A handler that queries nothing is gated
 * after it runs, unless an authority knew the grant live.
 */
export function callerScope(routeClass: OrgRouteClass): MiddlewareHandler<KindEnv<AuthVariables & CallerVariables>> {
  return async function callerScope(c, next) {
    const actor = c.var.actor;
    if (actor.type === 'user') return runOnSession(c, actor, routeClass, (scoped) => c.set('caller', scoped), next);
    // For a key, app_enter checks only that it is live and its org's; the permission names no scope here.
    const gate = { kind: 'org', orgId: actor.orgId, permission: 'org:read' } as const;
    const scope = (admitted?: { role: string }) => createScopedDatabase(requestDatabase(c), actor, requestMeta(c), gate, admitted);
    const { tenant } = await admitAtEdge(c, { actor, orgId: actor.orgId, permission: gate.permission, routeClass, scope });
    c.set('caller', tenant);
    await gated(c, tenant, next);
  };
}
