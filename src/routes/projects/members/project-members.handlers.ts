import type { RouteHandler } from '@hono/zod-openapi';
import { z } from '@hono/zod-openapi';
import { and, eq, sql } from 'drizzle-orm';
import { memberships, projectMembers, users } from '../../../db/schema/index.ts';
import { ApiError } from '../../../errors.ts';
import { decodeCursor, keysetAfter, keysetOrderBy, takePage, type KeyPart } from '../../../lib/pagination.ts';
import type { listProjectMembers, removeProjectRole, setProjectRole } from './project-members.routes.ts';
import { toProjectMember } from './project-members.schemas.ts';

const lowerName = sql<string>`lower(${users.name})`;
const byName: KeyPart[] = [
  { expression: lowerName, direction: 'asc' },
  { expression: projectMembers.userId, direction: 'asc' },
];

const memberFields = { userId: projectMembers.userId, name: users.name, role: projectMembers.role };

/** One round trip: gate (which also 404s an unknown or deleted project) + one keyset query. */
export const listProjectMembersHandler: RouteHandler<typeof listProjectMembers> = async (c) => {
  const { projectId } = c.req.valid('param');
  const { limit, cursor } = c.req.valid('query');
  const after = cursor ? decodeCursor(cursor, z.tuple([z.string().max(1000), z.uuid()])) : undefined;
  const [rows] = await c.var.tenant.batch((db) => [
    db
      .select({ ...memberFields, keyText: lowerName })
      .from(projectMembers)
      .innerJoin(users, eq(users.id, projectMembers.userId))
      .where(and(eq(projectMembers.projectId, projectId), after ? keysetAfter(byName, after) : undefined))
      .orderBy(...keysetOrderBy(byName))
      .limit(limit + 1),
  ]);
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
  const [, rows] = await c.var.tenant.batch((db) => [
    db
      .insert(projectMembers)
      .select((qb) =>
        qb
          .select({
            orgId: memberships.orgId,
            projectId: sql`${projectId}::uuid`.as('project_id'),
            userId: memberships.userId,
            role: sql`${role}::project_role`.as('role'),
            createdAt: sql`now()`.as('created_at'),
            updatedAt: sql`now()`.as('updated_at'),
          })
          .from(memberships)
          .where(and(eq(memberships.orgId, orgId), eq(memberships.userId, userId))),
      )
      .onConflictDoUpdate({
        target: [projectMembers.projectId, projectMembers.userId],
        set: {
          role: sql`excluded.role`,
          updatedAt: sql`case when ${projectMembers.role} is distinct from excluded.role then now() else ${projectMembers.updatedAt} end`,
        },
      }),
    db
      .select(memberFields)
      .from(projectMembers)
      .innerJoin(users, eq(users.id, projectMembers.userId))
      .where(and(eq(projectMembers.projectId, projectId), eq(projectMembers.userId, userId))),
  ]);
  const member = rows[0];
  if (!member) throw new ApiError('NOT_FOUND', 'User is not a member of this organization.');
  return c.json({ data: toProjectMember(member) }, 200);
};

export const removeProjectRoleHandler: RouteHandler<typeof removeProjectRole> = async (c) => {
  const { projectId, userId } = c.req.valid('param');
  const [rows] = await c.var.tenant.batch((db) => [
    db
      .delete(projectMembers)
      .where(and(eq(projectMembers.projectId, projectId), eq(projectMembers.userId, userId)))
      .returning({ userId: projectMembers.userId }),
  ]);
  if (!rows[0]) throw new ApiError('NOT_FOUND', 'This user has no role on the project.');
  return c.body(null, 204);
};
