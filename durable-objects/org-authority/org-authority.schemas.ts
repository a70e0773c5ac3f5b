import { z } from 'zod';
import { limitOverridesSchema, TIERS } from '../../src/lib/limits.ts';
import type { OrgRouteClass } from '../../src/lib/limits.ts';
import { ORG_ROLES, PROJECT_ROLES, type Permission } from '../../src/lib/permissions.ts';
import type { LimitDecision } from '../../src/lib/sliding-log.ts';

/** Names the authority of one org: the org id (any uuid shape, as routes accept), so no two tenants ever share one. */
export const orgAuthorityKey = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i)
  .transform((id) => id.toLowerCase());

const validUntil = z.number().nullable();
const shared = { tier: z.enum(TIERS), overrides: limitOverridesSchema.catch({}), project: z.uuid().optional() };

/**
 * A grant as Postgres saw it when the gate admitted the caller (`app_edge_grant`, src/db/sql/edge.sql):
 * enough for the authority to decide the caller's next requests, for any permission, on its own.
 */
export const grantSnapshot = z.discriminatedUnion('type', [
  z.object({
    ...shared,
    type: z.literal('user'),
    validUntil,
    role: z.enum(ORG_ROLES),
    projectRoles: z.record(z.uuid(), z.enum(PROJECT_ROLES)),
  }),
  z.object({ ...shared, type: z.literal('api_key'), validUntil }),
]);
export type GrantSnapshot = z.infer<typeof grantSnapshot>;

/** Who asks: a user's session, or an API key presented with one secret (its hash). */
export type Subject = { type: 'user'; userId: string; sessionId: string } | { type: 'api_key'; keyId: string; keyHash: string };

export interface AdmitRequest {
  subject: Subject;
  /** The route's permission (src/lib/permissions.ts). */
  permission: Permission;
  projectId?: string;
  /** The route's rate-limit class; counted against the org's limit for it once the caller is admitted. */
  routeClass: OrgRouteClass;
}

/** What the authority knows of the org's limits: its tier and overrides (from the last grant it was given). */
export interface OrgLimits {
  tier: z.infer<typeof shared.tier>;
  overrides: z.infer<typeof limitOverridesSchema>;
}

/** Which limit refused: the org's (every caller waits) or the caller's own (others go on). */
export type LimitScope = 'org' | 'caller';
/** One limit that refused a request, with its own figure and wait. */
export interface LimitRefusal {
  scope: LimitScope;
  decision: LimitDecision;
}

/**
 * `admitted`: the grant is known and allows the permission (the org's limit and the caller's were counted;
 * `limited` instead when either is spent, and nothing counted: `decision` is the request's own, `refusals` each
 * limit's; an authority of an earlier version, met during a gradual deployment, answers `decision` alone). `refused`: known not to (status as the gate would answer). `unknown`: ask Postgres, then `fill`
 * with `grantEpoch`. `dataVersion` names the org's data as of now: cached bodies are keyed by it.
 */
export type AdmitResult =
  | { status: 'admitted'; role: string; limits: OrgLimits; dataVersion: string; decision: LimitDecision }
  | { status: 'limited'; limits: OrgLimits; decision: LimitDecision; refusals?: LimitRefusal[] }
  | { status: 'refused'; code: 401 | 403 | 404 }
  | { status: 'unknown'; grantEpoch: string; dataVersion: string };
