import { bodyErrorResponses } from '../../../errors.ts';
import { dataEnvelope, jsonContent } from '../../../lib/envelope.ts';
import { listEnvelope, paginationQuery } from '../../../lib/pagination.ts';
import { jsonBody } from '../../../lib/request-body.ts';
import { orgRoute } from '../../route-kinds.ts';
import { projectParams } from '../projects.schemas.ts';
import { projectMemberParams, projectMemberSchema, setProjectRoleBody } from './project-members.schemas.ts';

const tags = ['Project members'];

export const listProjectMembers = orgRoute('project_members:read', {
  method: 'get',
  path: '/orgs/{orgId}/projects/{projectId}/members',
  tags,
  summary: "List the project's member roles",
  description: 'Users with a role on this project, by name (case-insensitive), cursor-paginated.',
  request: { params: projectParams, query: paginationQuery },
  responses: { 200: jsonContent(listEnvelope(projectMemberSchema), 'A page of project members.') },
});

export const setProjectRole = orgRoute('project_members:write', {
  method: 'put',
  path: '/orgs/{orgId}/projects/{projectId}/members/{userId}',
  tags,
  summary: "Set a user's role on the project",
  description:
    'Creates or replaces the role. The user must already be a member of the organization: otherwise 404, as for any user ' +
    'the caller cannot see. A project role replaces the org role of members and viewers on this project; owners and admins keep theirs.',
  request: { params: projectMemberParams, body: jsonBody(setProjectRoleBody, 'The role on this project.') },
  responses: { 200: jsonContent(dataEnvelope(projectMemberSchema), 'The project member.'), ...bodyErrorResponses },
});

export const removeProjectRole = orgRoute('project_members:write', {
  method: 'delete',
  path: '/orgs/{orgId}/projects/{projectId}/members/{userId}',
  tags,
  summary: "Remove a user's role on the project",
  description: 'The user keeps their org role, which applies on this project again.',
  request: { params: projectMemberParams },
  responses: { 204: { description: 'Removed.' } },
});
