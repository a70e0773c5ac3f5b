import { and, eq, sql, type SQL } from 'drizzle-orm';
import type { HttpDatabase } from '../db/client.ts';
import { memberships, projectMembers, users } from '../db/schema/index.ts';
import type { Actor, ScopedDatabase } from '../db/tenant.ts';
import { ApiError } from '../errors.ts';
import { exactTimestamp, keysetAfter, keysetOrderBy, type KeyPart, type PageRequest } from '../lib/pagination.ts';
import type { OrgRole } from '../lib/permissions.ts';
import { callerRoleSql, lockOrganization, ownerCountSql } from './organizations.ts';

// An org's members (memberships): builders composed behind the gate in one batch, the ownership rules
// as SQL, and the removal, which both "remove a member" and "leave" use.

const joinOrder: KeyPart[] = [
  { expression: memberships.createdAt, direction: 'asc' },
  { expression: memberships.userId, direction: 'asc' },
];

/** A page of the org's members in the order they joined (`limit + 1` rows: see takePage), each with its key text for the cursor. */
export function selectMemberPage(db: HttpDatabase, orgId: string, page: PageRequest) {
  return db
    .select({
      userId: memberships.userId,
      name: users.name,
      email: users.email,
      role: memberships.role,
      joinedAt: memberships.createdAt,
      joinedKey: exactTimestamp(memberships.createdAt),
    })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    // The org filter is not redundant with RLS: a user also sees their own memberships in other orgs.
    .where(and(eq(memberships.orgId, orgId), page.after && keysetAfter(joinOrder, page.after)))
    .orderBy(...keysetOrderBy(joinOrder))
    .limit(page.limit + 1);
}

/**
 * A member as the membership endpoints show it, plus what explains a refused change: the caller's
 * role and the owner count. Read after the change, in the same transaction and under the org lock.
 */
export function memberState(db: HttpDatabase, actor: Actor, orgId: string, userId: string) {
  return db
    .select({
      userId: memberships.userId,
      role: memberships.role,
      joinedAt: memberships.createdAt,
      name: users.name,
      email: users.email,
      callerRole: callerRoleSql(actor, orgId),
      owners: ownerCountSql(orgId).mapWith(Number),
    })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(and(eq(memberships.orgId, orgId), eq(memberships.userId, userId)));
}

export type MemberState = Awaited<ReturnType<typeof memberState>>[number];

/**
 * The ownership rules as a SQL condition on the `memberships` row being changed, so a refused change
 * never happens (`to` is the new role, or null for a removal):
 *  - only an owner may grant the owner role or change or remove an owner;
 *  - the last owner may not be demoted or removed (nor leave).
 * `ownershipRefusal` explains the same rules to the caller; keep the two in step.
 */
export function ownershipGuard(actor: Actor, orgId: string, to: OrgRole | null): SQL {
  const target = memberships.role;
  const callerIsOwner = sql`${callerRoleSql(actor, orgId)} = 'owner'`;
  const touchesOwner = to === 'owner' ? sql`true` : sql`${target} = 'owner'`;
  const dropsOwner = to === 'owner' ? sql`false` : sql`${target} = 'owner'`;
  return sql`(${callerIsOwner} or not (${touchesOwner})) and not (${dropsOwner} and ${ownerCountSql(orgId)} <= 1)`;
}

/** Why the change `ownershipGuard` refused was refused, from the member's state under the org lock. */
export function ownershipRefusal(state: MemberState, to: OrgRole | null, self: boolean): ApiError | null {
  const touchesOwner = to === 'owner' || state.role === 'owner';
  if (touchesOwner && state.callerRole !== 'owner') {
    return new ApiError('FORBIDDEN', 'Only an owner can grant the owner role or change or remove an owner.');
  }
  if (state.role === 'owner' && to !== 'owner' && state.owners <= 1) {
    const what = to === null ? (self ? 'leave' : 'be removed') : 'be demoted';
    return new ApiError('CONFLICT', `The last owner of an organization cannot ${what}. Make another member an owner first, or delete the organization.`);
  }
  return null;
}

/** Changes a member's role if the ownership rules allow; returns their id if it changed. Batch it after `lockOrganization`. */
export function updateMemberRole(db: HttpDatabase, actor: Actor, orgId: string, userId: string, role: OrgRole) {
  return db
    .update(memberships)
    .set({ role, updatedAt: sql`now()` })
    .where(and(eq(memberships.orgId, orgId), eq(memberships.userId, userId), ownershipGuard(actor, orgId, role)))
    .returning({ userId: memberships.userId });
}

/**
 * One statement that deletes the membership (if the ownership rules allow) and, only if it did, the
 * member's project roles — so a refused removal touches nothing. Batch it after `lockOrganization`.
 */
export function deleteMembership(db: HttpDatabase, actor: Actor, orgId: string, userId: string) {
  return db.execute<{ removed: number }>(sql`
    with removed as (
      delete from ${memberships}
      where ${memberships.orgId} = ${orgId} and ${memberships.userId} = ${userId} and ${ownershipGuard(actor, orgId, null)}
      returning ${memberships.userId}
    ), project_roles as (
      -- Runs (to completion) although nothing reads it, and finds rows only if the membership went.
      delete from ${projectMembers}
      where ${projectMembers.orgId} = ${orgId} and ${projectMembers.userId} in (select user_id from removed)
    )
    select count(*)::int as removed from removed`);
}

/**
 * Removes `userId` from the org (or the caller themself, leaving). One round trip: gate, org lock, the
 * guarded removal, and the member's state, which explains a refusal (404, 403 or the last owner's 409).
 */
export async function removeMembership(tenant: ScopedDatabase, orgId: string, userId: string): Promise<void> {
  const actor = tenant.actor;
  const [, removal, [state]] = await tenant.batch((db) => [
    lockOrganization(db, orgId),
    deleteMembership(db, actor, orgId, userId),
    memberState(db, actor, orgId, userId),
  ]);
  if (Number(removal.rows[0]?.removed) === 1) return;
  if (!state) throw memberNotFound();
  throw ownershipRefusal(state, null, actor.type === 'user' && actor.id === userId) ?? membershipChanged();
}

export const memberNotFound = () => new ApiError('NOT_FOUND', 'Member not found.');

/** The guard refused, yet the state read just after allows it: something changed in between (e.g. an owner joined). */
export const membershipChanged = () => new ApiError('CONFLICT', 'The membership changed while this request ran. Try again.');
