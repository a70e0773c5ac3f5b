import { dataEnvelope, jsonContent } from '../../lib/envelope.ts';
import { orgRoute } from '../route-kinds.ts';
import { projectParams, projectSchema } from './projects.schemas.ts';

export const getProject = orgRoute('projects:read', {
  method: 'get',
  path: '/orgs/{orgId}/projects/{projectId}',
  tags: ['Projects'],
  summary: 'Get a project',
  request: { params: projectParams },
  responses: { 200: jsonContent(dataEnvelope(projectSchema), 'The project.') },
});
