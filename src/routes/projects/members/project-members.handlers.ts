import type { RouteHandler } from '@hono/zod-openapi';
import { z } from '@hono/zod-openapi';
import { ApiError } from '../../../errors.ts';
import { projectAccessChanged } from '../../../middleware/room-changes.ts';
import { decodeCursor, takePage } from '../../../lib/pagination.ts';
import { deleteProjectRole, selectProjectMember, selectProjectMemberPage, upsertProjectRole } from '../../../services/project-members.ts';
import type { listProjectMembers, removeProjectRole, setProjectRole } from './project-members.routes.ts';
import { toProjectMember } from './project-members.schemas.ts';

/** One round trip: gate (which also 404s an unknown or deleted project) + one keyset query. */
export const listProjectMembersHandler: RouteHandler<typeof listProjectMembers> = async (c) => {
  const { projectId } = c.req.valid('param');
  const { limit, cursor } = c.req.valid('query');
  const after = cursor ? decodeCursor(cursor, z.tuple([z.string().max(1000), z.uuid()])) : undefined;
  const [rows] = await c.var.tenant.batch((db) => [selectProjectMemberPage(db, projectId, { limit, after })]);
  const page = takePage(rows, limit, (row) => [row.keyText, row.userId]);
  return c.json({ data: page.items.map(toProjectMember), meta: { nextCursor: page.nextCursor, limit } }, 200);
};

/**
 * One round trip: gate + upsert + read-back. The upsert selects from the org's memberships, so a user
 * outside the org inserts nothing and gets 404 (as any user the caller cannot see). Setting the role a
 * user already has changes nothing, so it writes no audit entry.
 */
export const setProjectRoleHandler: RouteHandler<typeof setProjectRole> = async (c) => {
  const { orgId, projectId, userId } = c.req.valid('param');
  const { role } = c.req.valid('json');
  const [, [member]] = await c.var.tenant.batch((db) => [
    upsertProjectRole(db, { orgId, projectId, userId }, role),
    selectProjectMember(db, projectId, userId),
  ]);
  if (!member) throw new ApiError('NOT_FOUND', 'User is not a member of this organization.');
  await projectAccessChanged(c, orgId, projectId, userId);
  return c.json({ data: toProjectMember(member) }, 200);
};

/** One round trip: gate + delete. */
export const removeProjectRoleHandler: RouteHandler<typeof removeProjectRole> = async (c) => {
  const { orgId, projectId, userId } = c.req.valid('param');
  const [removed] = await c.var.tenant.batch((db) => [deleteProjectRole(db, projectId, userId)]);
  if (removed.length === 0) throw new ApiError('NOT_FOUND', 'This user has no role on the project.');
  await projectAccessChanged(c, orgId, projectId, userId);
  return c.body(null, 204);
};
