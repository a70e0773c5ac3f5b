import { and, eq, sql } from 'drizzle-orm';
import type { HttpDatabase } from '../db/client.ts';
import { memberships, projectMembers, users } from '../db/schema/index.ts';
import { keysetAfter, keysetOrderBy, type KeyPart, type PageRequest } from '../lib/pagination.ts';
import type { ProjectRole } from '../lib/permissions.ts';

// Builders for a project's roles (project_members): un-executed queries, composed behind the gate in one batch.

const lowerName = sql<string>`lower(${users.name})`;
const byName: KeyPart[] = [
  { expression: lowerName, direction: 'asc' },
  { expression: projectMembers.userId, direction: 'asc' },
];

const projectMemberFields = { userId: projectMembers.userId, name: users.name, role: projectMembers.role };

const roleOf = (projectId: string, userId: string) => and(eq(projectMembers.projectId, projectId), eq(projectMembers.userId, userId));

/** A page of the project's members by name (`limit + 1` rows: see takePage), each with its key text for the cursor. */
export function selectProjectMemberPage(db: HttpDatabase, projectId: string, page: PageRequest) {
  return db
    .select({ ...projectMemberFields, keyText: lowerName })
    .from(projectMembers)
    .innerJoin(users, eq(users.id, projectMembers.userId))
    .where(and(eq(projectMembers.projectId, projectId), page.after ? keysetAfter(byName, page.after) : undefined))
    .orderBy(...keysetOrderBy(byName))
    .limit(page.limit + 1);
}

/** `userId`'s role on the project, with their name. */
export function selectProjectMember(db: HttpDatabase, projectId: string, userId: string) {
  return db.select(projectMemberFields).from(projectMembers).innerJoin(users, eq(users.id, projectMembers.userId)).where(roleOf(projectId, userId));
}

/**
 * Creates or replaces `userId`'s role on the project. It selects from the org's memberships, so a user
 * outside the org inserts nothing. Setting the role a user already has changes nothing (no audit entry).
 */
export function upsertProjectRole(db: HttpDatabase, target: { orgId: string; projectId: string; userId: string }, role: ProjectRole) {
  const { orgId, projectId, userId } = target;
  return db
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
    });
}

/** Removes `userId`'s role on the project; returns their id if they had one. */
export function deleteProjectRole(db: HttpDatabase, projectId: string, userId: string) {
  return db.delete(projectMembers).where(roleOf(projectId, userId)).returning({ userId: projectMembers.userId });
}
