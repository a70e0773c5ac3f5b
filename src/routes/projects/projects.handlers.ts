import type { RouteHandler } from '@hono/zod-openapi';
import type { ScopedDatabase } from '../../db/tenant.ts';
import { ApiError } from '../../errors.ts';
import { insertProject, selectProject, softDeleteProject, updateProjectFields } from '../../services/projects.ts';
import { quotaCheck } from '../../services/quotas.ts';
import { projectEvent, projectGone } from '../../middleware/room-changes.ts';
import type { createProject, deleteProject, getProject, replaceProject, updateProject } from './projects.routes.ts';
import { toProject } from './projects.schemas.ts';

// Every handler is one round trip: the gate (session, membership, role, project role) and the work run
// as one transaction, and the audit trigger writes the entry inside it.
const projectNotFound = () => new ApiError('NOT_FOUND', 'Project not found.');

export const getProjectHandler: RouteHandler<typeof getProject> = async (c) => {
  const { projectId } = c.req.valid('param');
  const [[project]] = await c.var.tenant.batch((db) => [selectProject(db, projectId)]);
  if (!project) throw projectNotFound();
  return c.json({ data: toProject(project) }, 200);
};

export const createProjectHandler: RouteHandler<typeof createProject> = async (c) => {
  const { orgId } = c.req.valid('param');
  const [, [project]] = await c.var.tenant.batch((db) => [db.execute(quotaCheck(orgId, 'projects')), insertProject(db, orgId, c.req.valid('json'))]);
  if (!project) throw new Error('insert returned no row');
  c.header('Location', `/api/v1/orgs/${orgId}/projects/${project.id}`);
  return c.json({ data: toProject(project) }, 201);
};

export const updateProjectHandler: RouteHandler<typeof updateProject> = async (c) => {
  const project = await saveProject(c.var.tenant, c.req.valid('param').projectId, c.req.valid('json'));
  projectEvent(c, project.orgId, project.id, { event: 'project.updated', data: toProject(project) });
  return c.json({ data: toProject(project) }, 200);
};

export const replaceProjectHandler: RouteHandler<typeof replaceProject> = async (c) => {
  const project = await saveProject(c.var.tenant, c.req.valid('param').projectId, c.req.valid('json'));
  projectEvent(c, project.orgId, project.id, { event: 'project.updated', data: toProject(project) });
  return c.json({ data: toProject(project) }, 200);
};

/** PATCH and PUT: fields left undefined are kept; `null` clears the description (see `updateProjectFields`). */
async function saveProject(tenant: ScopedDatabase, projectId: string, fields: { name?: string; description?: string | null }) {
  const [[project]] = await tenant.batch((db) => [updateProjectFields(db, projectId, fields)]);
  if (!project) throw projectNotFound();
  return project;
}

export const deleteProjectHandler: RouteHandler<typeof deleteProject> = async (c) => {
  const { projectId } = c.req.valid('param');
  const [deleted] = await c.var.tenant.batch((db) => [softDeleteProject(db, projectId)]);
  if (deleted.length === 0) throw projectNotFound();
  projectGone(c, c.req.valid('param').orgId.toLowerCase(), projectId.toLowerCase());
  return c.body(null, 204);
};
