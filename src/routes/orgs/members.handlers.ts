import type { RouteHandler } from '@hono/zod-openapi';
import { and, eq, sql } from 'drizzle-orm';
import { memberships, projectMembers, users } from '../../db/schema/index.ts';
import type { ScopedDatabase } from '../../db/tenant.ts';
import { ApiError } from '../../errors.ts';
import { decodeCursor, exactTimestamp, keysetAfter, keysetOrderBy, takePage, type KeyPart } from '../../lib/pagination.ts';
import { lockOrganization, memberState, ownershipGuard, ownershipRefusal } from '../../services/organizations.ts';
import type { leaveOrg, listMembers, removeMember, updateMember } from './members.routes.ts';
import { memberCursor, toMember } from './members.schemas.ts';

const memberOrder: KeyPart[] = [
  { expression: memberships.createdAt, direction: 'asc' },
  { expression: memberships.userId, direction: 'asc' },
];

/** One round trip: gate and page. Members in the order they joined. */
export const listMembersHandler: RouteHandler<typeof listMembers> = async (c) => {
  const { orgId } = c.req.valid('param');
  const { limit, cursor } = c.req.valid('query');
  const after = cursor === undefined ? undefined : decodeCursor(cursor, memberCursor);
  const [rows] = await c.var.tenant.batch((db) => [
    db
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
      .where(and(eq(memberships.orgId, orgId), after && keysetAfter(memberOrder, after)))
      .orderBy(...keysetOrderBy(memberOrder))
      .limit(limit + 1),
  ]);
  const page = takePage(rows, limit, (row) => [row.joinedKey, row.userId]);
  return c.json({ data: page.items.map(toMember), meta: { nextCursor: page.nextCursor, limit } }, 200);
};

/**
 * One round trip: gate, org lock, the change (guarded by the ownership rules in SQL), and the member's
 * state, which is the response — or, when the guard refused, the explanation.
 */
export const updateMemberHandler: RouteHandler<typeof updateMember> = async (c) => {
  const { orgId, userId } = c.req.valid('param');
  const { role } = c.req.valid('json');
  const actor = c.var.actor;
  const [, updated, [state]] = await c.var.tenant.batch((db) => [
    lockOrganization(db, orgId),
    db
      .update(memberships)
      .set({ role, updatedAt: sql`now()` })
      .where(and(eq(memberships.orgId, orgId), eq(memberships.userId, userId), ownershipGuard(actor, orgId, role)))
      .returning({ userId: memberships.userId }),
    memberState(db, actor, orgId, userId),
  ]);
  if (!state) throw new ApiError('NOT_FOUND', 'Member not found.');
  if (updated.length === 0) throw ownershipRefusal(state, role, actor.type === 'user' && actor.id === userId) ?? conflict();
  return c.json({ data: toMember(state) }, 200);
};

/** One round trip; see `removeMembership`. */
export const removeMemberHandler: RouteHandler<typeof removeMember> = async (c) => {
  const { orgId, userId } = c.req.valid('param');
  await removeMembership(c.var.tenant, orgId, userId);
  return c.body(null, 204);
};

/** The caller removes themself: the same rules and round trip as a removal (the last owner stays). */
export const leaveOrgHandler: RouteHandler<typeof leaveOrg> = async (c) => {
  const { orgId } = c.req.valid('param');
  const actor = c.var.actor;
  if (actor.type !== 'user') throw new ApiError('FORBIDDEN', 'API keys are not members and cannot leave an organization.');
  await removeMembership(c.var.tenant, orgId, actor.id);
  return c.body(null, 204);
};

/**
 * One round trip: gate, org lock, then one statement that deletes the membership (if the ownership
 * rules allow) and, only if it did, the member's project roles — so a refused removal touches nothing.
 */
async function removeMembership(tenant: ScopedDatabase, orgId: string, userId: string): Promise<void> {
  const actor = tenant.actor;
  const [, removal, [state]] = await tenant.batch((db) => [
    lockOrganization(db, orgId),
    db.execute<{ removed: number }>(sql`
      with removed as (
        delete from ${memberships}
        where ${memberships.orgId} = ${orgId} and ${memberships.userId} = ${userId} and ${ownershipGuard(actor, orgId, null)}
        returning ${memberships.userId}
      ), project_roles as (
        -- Runs (to completion) although nothing reads it, and finds rows only if the membership went.
        delete from ${projectMembers}
        where ${projectMembers.orgId} = ${orgId} and ${projectMembers.userId} in (select user_id from removed)
      )
      select count(*)::int as removed from removed`),
    memberState(db, actor, orgId, userId),
  ]);
  if (Number(removal.rows[0]?.removed) === 1) return;
  if (!state) throw new ApiError('NOT_FOUND', 'Member not found.');
  throw ownershipRefusal(state, null, actor.type === 'user' && actor.id === userId) ?? conflict();
}

/** The guard refused, yet the state read just after allows it: something changed in between (e.g. an owner joined). */
const conflict = () => new ApiError('CONFLICT', 'The membership changed while this request ran. Try again.');
