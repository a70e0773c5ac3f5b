import { bodyErrorResponses, quotaErrorResponses } from '../../errors.ts';
import { dataEnvelope, jsonContent } from '../../lib/envelope.ts';
import { orgParams } from '../../lib/fields.ts';
import { listEnvelope } from '../../lib/pagination.ts';
import { jsonBody } from '../../lib/request-body.ts';
import { orgRoute } from '../route-kinds.ts';
import { createProjectBody, listProjectsQuery, projectParams, projectSchema, replaceProjectBody, updateProjectBody } from './projects.schemas.ts';

const tags = ['Projects'];
const project = dataEnvelope(projectSchema);

export const listProjects = orgRoute('projects:read', {
  method: 'get',
  path: '/orgs/{orgId}/projects',
  tags,
  summary: 'List projects',
  description: 'Cursor-paginated. An API key limited to a project sees only that project.',
  request: { params: orgParams, query: listProjectsQuery },
  responses: { 200: jsonContent(listEnvelope(projectSchema), 'A page of projects.') },
});

export const createProject = orgRoute('projects:write', {
  method: 'post',
  path: '/orgs/{orgId}/projects',
  tags,
  summary: 'Create a project',
  request: { params: orgParams, body: jsonBody(createProjectBody, 'The new project.') },
  responses: { 201: jsonContent(project, 'The new project.'), ...bodyErrorResponses, ...quotaErrorResponses },
});

export const getProject = orgRoute('projects:read', {
  method: 'get',
  path: '/orgs/{orgId}/projects/{projectId}',
  tags,
  edgeCache: true,
  summary: 'Get a project',
  request: { params: projectParams },
  responses: { 200: jsonContent(project, 'The project.') },
});

export const updateProject = orgRoute('projects:write', {
  method: 'patch',
  path: '/orgs/{orgId}/projects/{projectId}',
  tags,
  summary: 'Change some fields of a project',
  request: { params: projectParams, body: jsonBody(updateProjectBody, 'The fields to change; the others are kept.') },
  responses: { 200: jsonContent(project, 'The updated project.'), ...bodyErrorResponses },
});

export const replaceProject = orgRoute('projects:write', {
  method: 'put',
  path: '/orgs/{orgId}/projects/{projectId}',
  tags,
  summary: 'Replace the writable fields of a project',
  request: { params: projectParams, body: jsonBody(replaceProjectBody, 'Every writable field.') },
  responses: { 200: jsonContent(project, 'The updated project.'), ...bodyErrorResponses },
});

export const deleteProject = orgRoute('projects:delete', {
  method: 'delete',
  path: '/orgs/{orgId}/projects/{projectId}',
  tags,
  summary: 'Delete a project',
  description: 'Soft delete: the project disappears from every route (404) but stays in the audit log.',
  request: { params: projectParams },
  responses: { 204: { description: 'Deleted.' } },
});
