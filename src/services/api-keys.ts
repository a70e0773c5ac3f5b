import { sql, type SQL } from 'drizzle-orm';
import type { Config } from '../config.ts';
import type { Actor, ScopedDatabase } from '../db/tenant.ts';
import { randomToken, sha256Hex } from '../lib/crypto.ts';
import { ORG_ROLES, orgRoleAllows, orgRolesFor, PERMISSIONS, type OrgRole, type Permission } from '../lib/permissions.ts';

/** How many characters of a key are kept in clear, to tell keys apart in lists (`sk_live_ab12`). */
export const KEY_PREFIX_LENGTH = 12;

/**
 * A new secret key (shown to the caller once), its display prefix, and its SHA-256, which is all we store.
 * Production keys say `sk_live_`, every other environment's `sk_test_`, so a leaked test key is recognisable.
 */
export async function generateApiKey(config: Pick<Config, 'APP_ENV'>): Promise<{ key: string; prefix: string; keyHash: string }> {
  const key = randomToken(config.APP_ENV === 'production' ? 'sk_live_' : 'sk_test_');
  return { key, prefix: key.slice(0, KEY_PREFIX_LENGTH), keyHash: await sha256Hex(key) };
}

/**
 * Of `scopes`, those that some role able to create keys (`creatorRoles`) does not hold: the only scopes
 * `scopeGates` can refuse. Used to explain a 403 when the gate cannot say which check failed.
 */
export function contestedScopes(creatorRoles: readonly OrgRole[], scopes: readonly Permission[]): Permission[] {
  return scopes.filter((scope) => creatorRoles.some((role) => !orgRoleAllows(role, scope)));
}

/**
 * Gate statements, for the same batch as a key's insert, that raise AP403 (rolling the insert back) unless
 * the caller's org role holds every scope. Each is the ordinary gate for one permission; scopes held by the
 * same roles need one check, so there are at most as many statements as distinct role sets (4 today).
 * API keys pass the gate by being live, so the caller must also check `scopes ⊆ actor.scopes` for them.
 */
export function scopeGates(tenant: ScopedDatabase, orgId: string, scopes: readonly Permission[]): SQL[] {
  const byRoleSet = new Map(scopes.map((scope) => [orgRolesFor(scope).join(','), scope]));
  return [...byRoleSet.values()].map((permission) => tenant.check({ kind: 'org', orgId, permission }));
}

// role → permissions it holds org-wide, for SQL: {"owner": ["org:read", …], …}
const heldByRole = JSON.stringify(Object.fromEntries(ORG_ROLES.map((role) => [role, PERMISSIONS.filter((permission) => orgRoleAllows(role, permission))])));

/**
 * A SQL condition: the caller holds every permission in `scopes` (a text[] expression, e.g. a key's stored
 * scopes). Users: through their org role in the current org (from the permission matrix); API keys: through
 * their own scopes. Used where the scopes are only known inside the database, e.g. when rotating a key.
 */
export function callerHoldsScopes(actor: Actor, scopes: SQL): SQL {
  if (actor.type === 'api_key') return sql`(${scopes} <@ ${sql.param(actor.scopes)}::text[])`;
  return sql`exists (
    select 1 from memberships m
    where m.org_id = app_org_id() and m.user_id = app_user_id()
      and ${scopes} <@ array(select jsonb_array_elements_text(${heldByRole}::jsonb -> m.role::text))
  )`;
}
