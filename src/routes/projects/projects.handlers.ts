import type { RouteHandler } from '@hono/zod-openapi';
import { and, eq, isNull, sql } from 'drizzle-orm';
import { projects } from '../../db/schema/index.ts';
import type { ScopedDatabase } from '../../db/tenant.ts';
import { ApiError } from '../../errors.ts';
import type { createProject, deleteProject, getProject, replaceProject, updateProject } from './projects.routes.ts';
import { toProject } from './projects.schemas.ts';

// Every handler is one round trip: the gate (session, membership, role, project role) and the work run
// as one transaction, and the audit trigger writes the entry inside it. A live project is one not deleted.
const live = (projectId: string) => and(eq(projects.id, projectId), isNull(projects.deletedAt));

export const getProjectHandler: RouteHandler<typeof getProject> = async (c) => {
  const { projectId } = c.req.valid('param');
  const [rows] = await c.var.tenant.batch((db) => [db.select().from(projects).where(live(projectId))]);
  const project = rows[0];
  if (!project) throw new ApiError('NOT_FOUND', 'Project not found.');
  return c.json({ data: toProject(project) }, 200);
};

export const createProjectHandler: RouteHandler<typeof createProject> = async (c) => {
  const { orgId } = c.req.valid('param');
  const { name, description } = c.req.valid('json');
  const [rows] = await c.var.tenant.batch((db) => [db.insert(projects).values({ orgId, name, description: description ?? null }).returning()]);
  const project = rows[0];
  if (!project) throw new Error('insert returned no row');
  c.header('Location', `/api/v1/orgs/${orgId}/projects/${project.id}`);
  return c.json({ data: toProject(project) }, 201);
};

export const updateProjectHandler: RouteHandler<typeof updateProject> = async (c) => {
  const project = await saveProject(c.var.tenant, c.req.valid('param').projectId, c.req.valid('json'));
  return c.json({ data: toProject(project) }, 200);
};

export const replaceProjectHandler: RouteHandler<typeof replaceProject> = async (c) => {
  const project = await saveProject(c.var.tenant, c.req.valid('param').projectId, c.req.valid('json'));
  return c.json({ data: toProject(project) }, 200);
};

/**
 * PATCH and PUT: fields left undefined are kept (drizzle skips them); `null` clears the description.
 * `updated_at` moves only when a value really changes, so a no-op write is invisible (and unaudited).
 */
async function saveProject(tenant: ScopedDatabase, projectId: string, fields: { name?: string; description?: string | null }) {
  const nextName = fields.name === undefined ? sql`${projects.name}` : sql`${fields.name}::text`;
  const nextDescription = fields.description === undefined ? sql`${projects.description}` : sql`${fields.description}::text`;
  const changed = sql`(${projects.name}, ${projects.description}) is distinct from (${nextName}, ${nextDescription})`;
  const [rows] = await tenant.batch((db) => [
    db
      .update(projects)
      .set({ name: fields.name, description: fields.description, updatedAt: sql`case when ${changed} then now() else ${projects.updatedAt} end` })
      .where(live(projectId))
      .returning(),
  ]);
  const project = rows[0];
  if (!project) throw new ApiError('NOT_FOUND', 'Project not found.');
  return project;
}

export const deleteProjectHandler: RouteHandler<typeof deleteProject> = async (c) => {
  const { projectId } = c.req.valid('param');
  const [rows] = await c.var.tenant.batch((db) => [
    db.update(projects).set({ deletedAt: sql`now()`, updatedAt: sql`now()` }).where(live(projectId)).returning({ id: projects.id }),
  ]);
  if (!rows[0]) throw new ApiError('NOT_FOUND', 'Project not found.');
  return c.body(null, 204);
};
