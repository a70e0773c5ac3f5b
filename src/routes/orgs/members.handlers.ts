import type { RouteHandler } from '@hono/zod-openapi';
import { ApiError } from '../../errors.ts';
import { decodeCursor, takePage } from '../../lib/pagination.ts';
import { memberNotFound, memberState, membershipChanged, ownershipRefusal, removeMembership, selectMemberPage, updateMemberRole } from '../../services/members.ts';
import { lockOrganization } from '../../services/organizations.ts';
import { disconnectSockets, notifyMember, orgEvent } from '../../middleware/room-changes.ts';
import { notify } from '../../middleware/notify.ts';
import type { leaveOrg, listMembers, removeMember, updateMember } from './members.routes.ts';
import { memberCursor, toMember } from './members.schemas.ts';

/** One round trip: gate and page. Members in the order they joined. */
export const listMembersHandler: RouteHandler<typeof listMembers> = async (c) => {
  const { orgId } = c.req.valid('param');
  const { limit, cursor } = c.req.valid('query');
  const after = cursor === undefined ? undefined : decodeCursor(cursor, memberCursor);
  const [rows] = await c.var.tenant.batch((db) => [selectMemberPage(db, orgId, { limit, after })]);
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
    updateMemberRole(db, actor, orgId, userId, role),
    memberState(db, actor, orgId, userId),
  ]);
  if (!state) throw memberNotFound();
  if (updated.length === 0) throw ownershipRefusal(state, role, actor.type === 'user' && actor.id === userId) ?? membershipChanged();
  orgEvent(c, orgId, { event: 'member.updated', data: { userId, role } });
  notifyMember(c, orgId, userId, { event: 'membership.role_changed', data: { role } });
  notify(c, { type: 'member.role_changed', orgId, userId, role });
  await disconnectSockets(c, [orgId], { userId }, 'accessChanged');
  return c.json({ data: toMember(state) }, 200);
};

/** One round trip; see `removeMembership`. */
export const removeMemberHandler: RouteHandler<typeof removeMember> = async (c) => {
  const { orgId, userId } = c.req.valid('param');
  await removeMembership(c.var.tenant, orgId, userId);
  orgEvent(c, orgId, { event: 'member.removed', data: { userId } });
  notify(c, { type: 'member.removed', orgId, userId });
  await disconnectSockets(c, [orgId], { userId }, 'accessChanged');
  return c.body(null, 204);
};

/** The caller removes themself: the same rules and round trip as a removal (the last owner stays). */
export const leaveOrgHandler: RouteHandler<typeof leaveOrg> = async (c) => {
  const { orgId } = c.req.valid('param');
  const actor = c.var.actor;
  if (actor.type !== 'user') throw new ApiError('FORBIDDEN', 'API keys are not members and cannot leave an organization.');
  await removeMembership(c.var.tenant, orgId, actor.id);
  orgEvent(c, orgId, { event: 'member.removed', data: { userId: actor.id } });
  await disconnectSockets(c, [orgId], { userId: actor.id }, 'accessChanged');
  return c.body(null, 204);
};
