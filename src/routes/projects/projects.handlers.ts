import type { RouteHandler } from '@hono/zod-openapi';
import { and, eq, isNull } from 'drizzle-orm';
import { projects } from '../../db/schema/index.ts';
import type { AppEnv } from '../../env.ts';
import { ApiError } from '../../errors.ts';
import type { getProject } from './projects.routes.ts';
import { toProject } from './projects.schemas.ts';

/** One round trip: the gate (membership, role, project role, session) and the read, together. */
export const getProjectHandler: RouteHandler<typeof getProject, AppEnv> = async (c) => {
  const { projectId } = c.req.valid('param');
  const [rows] = await c.var.tenant.batch((db) => [db.select().from(projects).where(and(eq(projects.id, projectId), isNull(projects.deletedAt)))]);
  const project = rows[0];
  if (!project) throw new ApiError('NOT_FOUND', 'Project not found.');
  return c.json({ data: toProject(project) }, 200);
};
