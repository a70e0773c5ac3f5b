/**
 * THE permission matrix: every action × resource, and which roles hold it. Routes name one
 * permission each; the gate (`app_enter` in src/db/sql/gate.sql) enforces it in the same
 * round trip as the route's work. API-key scopes are drawn from the same names.
 *
 * Org roles: owner > admin > member > viewer. A project role (admin / editor / viewer) replaces the
 * org role of a member or viewer on that one project — narrowing or widening it; owners and admins
 * keep their org rights everywhere.
 */
export const ORG_ROLES = ['owner', 'admin', 'member', 'viewer'] as const;
export const PROJECT_ROLES = ['admin', 'editor', 'viewer'] as const;

export type OrgRole = (typeof ORG_ROLES)[number];
export type ProjectRole = (typeof PROJECT_ROLES)[number];

const everyone = ORG_ROLES;
const managers = ['owner', 'admin'] as const;

export const permissionMatrix = {
  'org:read': { org: everyone },
  'org:update': { org: managers },
  'org:delete': { org: ['owner'] },
  'members:read': { org: everyone },
  'members:write': { org: managers },
  'invitations:read': { org: managers },
  'invitations:write': { org: managers },
  'projects:read': { org: everyone, project: PROJECT_ROLES },
  'projects:write': { org: ['owner', 'admin', 'member'], project: ['admin', 'editor'] },
  'projects:delete': { org: managers, project: ['admin'] },
  'project_members:read': { org: everyone, project: PROJECT_ROLES },
  'project_members:write': { org: managers, project: ['admin'] },
  'api_keys:read': { org: managers },
  'api_keys:write': { org: managers },
  'audit_logs:read': { org: managers },
  'files:read': { org: everyone },
  'files:write': { org: ['owner', 'admin', 'member'] },
  'files:delete': { org: managers },
  'webhooks:read': { org: managers },
  'webhooks:write': { org: managers },
  'events:write': { org: everyone },
} as const satisfies Record<string, { org: readonly OrgRole[]; project?: readonly ProjectRole[] }>;

export type Permission = keyof typeof permissionMatrix;
export const PERMISSIONS = Object.keys(permissionMatrix) as Permission[];

/** Org roles holding `permission`. */
export function orgRolesFor(permission: Permission): readonly OrgRole[] {
  return permissionMatrix[permission].org;
}

/** Project roles holding `permission` on a project ([] for org-level permissions). */
export function projectRolesFor(permission: Permission): readonly ProjectRole[] {
  const entry: { org: readonly OrgRole[]; project?: readonly ProjectRole[] } = permissionMatrix[permission];
  return entry.project ?? [];
}

/** Whether an org role holds a permission at org level (no project override involved). */
export function orgRoleAllows(role: OrgRole, permission: Permission): boolean {
  return orgRolesFor(permission).includes(role);
}

/** Roles at or below `role`: what an inviter may grant. */
export function rolesUpTo(role: OrgRole): OrgRole[] {
  return ORG_ROLES.slice(ORG_ROLES.indexOf(role));
}

/**
 * The gate's decision (`app_enter` in src/db/sql/gate.sql) on facts already known: a project role replaces
 * the org role of a member or viewer on that project; owners and admins keep theirs. The edge authority
 * (durable-objects/org-authority) decides warm requests with it; test/integration/edge-authority.test.ts
 * checks it agrees with the SQL gate for every role × project role × permission.
 */
export function roleAdmits(role: OrgRole, projectRole: ProjectRole | undefined, permission: Permission): boolean {
  if (projectRole !== undefined && role !== 'owner' && role !== 'admin') {
    return (projectRolesFor(permission) as readonly string[]).includes(projectRole);
  }
  return orgRoleAllows(role, permission);
}

/**
 * Permissions whose writes change data only, never who is admitted: a success moves the org's data version at
 * the edge (so no cached body is served after it). Every other write (members, roles, keys, leaving, deleting a
 * project or the org …) drops every grant the org's edge authority holds. A new permission is grant-changing
 * until it is listed here, so forgetting it costs a cold request, never a stale grant.
 */
export const DATA_PERMISSIONS: ReadonlySet<Permission> = new Set<Permission>(['org:update', 'projects:write', 'invitations:write', 'files:write', 'files:delete', 'webhooks:write']);
