import type { MiddlewareHandler } from 'hono';
import { createScopedDatabase, type Actor, type ScopedDatabase } from '../db/tenant.ts';
import type { KindEnv } from '../env.ts';
import { ApiError } from '../errors.ts';
import { idField } from '../lib/fields.ts';
import type { OrgRouteClass, Tier } from '../lib/limits.ts';
import { DATA_PERMISSIONS, type Permission } from '../lib/permissions.ts';
import { gated, requestDatabase } from './database.ts';
import { admitAtEdge } from './edge-admission.ts';
import { reportWrite } from './edge-changes.ts';
import { requestMeta } from './request-meta.ts';

export type TenantVariables = {
  actor: Actor;
  /** The caller's database in the route's org, gated on the route's permission. */
  tenant: ScopedDatabase;
  /** The org's data version when its edge authority admitted the caller (keys cached bodies). */
  dataVersion?: string;
  /** The org's tier when its edge authority admitted the caller (flags target tiers with it). */
  tier?: Tier;
};

// Anything not shaped like a uuid is an unknown resource (404); a uuid-shaped id the path schema still refuses
// (e.g. version 0) is a 400 from validation, as the OpenAPI document's pattern says.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const isId = (value: string | undefined) => value !== undefined && UUID.test(value);

/**
 * The one authorization mechanism of org-scoped routes. It checks what needs no database (API-key
 * org, project and scope), then admits the caller at the edge (middleware/edge-admission.ts: the org's
 * authority decides membership, role, project role, session and key liveness and counts the org's rate
 * limit, confirming a cold grant in Postgres first), and hands the route a database gated on `permission`
 * whose every batch still begins with the gate. Ids that are not UUIDs answer 404 like any other unknown
 * resource. After an admitted caller's write it tells the authority, before the response leaves.
 */
export function authorize(
  permission: Permission,
  routeClass: OrgRouteClass,
  options: { gateFirst?: boolean; changesNothing?: boolean } = {},
): MiddlewareHandler<KindEnv<TenantVariables>> {
  const changes = DATA_PERMISSIONS.has(permission) ? 'data' : 'grants';
  // Socket routes (a connect, a connect ticket) change no org data and no grant: nothing to report.
  const readOnly = options.changesNothing === true;
  return async function authorize(c, next) {
    // One spelling per id: Postgres reads any case, and an upper-case path must reach the same authority,
    // the same limit and the same cached bodies as everyone else's.
    const orgId = (c.req.param('orgId') ?? '').toLowerCase();
    const projectId = c.req.param('projectId')?.toLowerCase();
    if (!isId(orgId) || (projectId !== undefined && !isId(projectId))) throw new ApiError('NOT_FOUND', 'Not found.');
    const actor = c.var.actor;
    if (actor.type === 'api_key') {
      if (actor.orgId !== orgId) throw new ApiError('NOT_FOUND', 'Not found.');
      if (!actor.scopes.includes(permission)) throw new ApiError('FORBIDDEN', `This API key lacks the "${permission}" scope.`);
      if (actor.projectId && projectId !== undefined && projectId !== actor.projectId) throw new ApiError('NOT_FOUND', 'Not found.');
      // A project-limited key may act on its project; at org level it may only list projects (filtered to its own).
      if (actor.projectId && projectId === undefined && permission !== 'projects:read') {
        throw new ApiError('FORBIDDEN', 'This API key is limited to one project.');
      }
    }
    const gate = { kind: 'org', orgId, permission, projectId } as const;
    const scope = (admitted?: { role: string }) => createScopedDatabase(requestDatabase(c), actor, requestMeta(c), gate, admitted);
    // An id the path schema refuses (e.g. a version-0 uuid) gets validation's 400 before anyone is asked anything.
    const valid = idField.safeParse(orgId).success && (projectId === undefined || idField.safeParse(projectId).success);
    const { tenant, dataVersion, tier } = valid ? await admitAtEdge(c, { actor, orgId, permission, projectId, routeClass, scope }) : { tenant: scope() };
    c.set('tenantId', orgId);
    c.set('tenant', tenant);
    c.set('dataVersion', dataVersion);
    c.set('tier', tier);
    // Kinds whose handlers act outside Postgres (a WebSocket accept, a streamed upload) are admitted first.
    if (options.gateFirst && !tenant.gated) await tenant.enter();
    await gated(c, tenant, next);
    // A success, or a failure after which the write may still have committed (a lost reply from Postgres): telling
    // the authority once too often costs only a cold request. A refusal (4xx) changed nothing.
    const mayHaveWritten = c.res.status < 400 || c.res.status >= 500;
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD' && !readOnly && tenant.gated && mayHaveWritten) await reportWrite(c, orgId, changes);
  };
}
