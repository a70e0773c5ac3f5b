import { z } from '@hono/zod-openapi';
import { pathId } from '../../../lib/fields.ts';
import { PROJECT_ROLES } from '../../../lib/permissions.ts';
import { projectParams } from '../projects.schemas.ts';

/** A user's role on one project, which narrows or widens their org role there (owners and admins keep theirs). */
export const projectMemberSchema = z
  .object({ userId: z.uuid(), name: z.string(), role: z.enum(PROJECT_ROLES) })
  .openapi('ProjectMember');

export const projectMemberParams = projectParams.extend({ userId: pathId('userId') });

export const setProjectRoleBody = z.strictObject({ role: z.enum(PROJECT_ROLES) }).openapi('SetProjectRole');

type ProjectMemberRow = { userId: string; name: string; role: z.infer<typeof projectMemberSchema>['role'] };

/** Row → response: an explicit pick. */
export function toProjectMember(row: ProjectMemberRow): z.infer<typeof projectMemberSchema> {
  return { userId: row.userId, name: row.name, role: row.role };
}
