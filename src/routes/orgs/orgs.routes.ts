import { bodyErrorResponses, errorResponse } from '../../errors.ts';
import { dataEnvelope, jsonContent } from '../../lib/envelope.ts';
import { orgParams } from '../../lib/fields.ts';
import { listEnvelope } from '../../lib/pagination.ts';
import { jsonBody } from '../../lib/request-body.ts';
import { orgRoute, userRoute } from '../route-kinds.ts';
import { createOrgBody, listOrgsQuery, organizationSchema, updateOrgBody } from './orgs.schemas.ts';

const tags = ['Organizations'];
const slugConflict = errorResponse('The slug is taken by another organization.');

export const createOrg = userRoute({
  method: 'post',
  path: '/orgs',
  tags,
  summary: 'Create an organization',
  description: 'The caller becomes its owner. Without a slug, one is generated from the name.',
  request: { body: jsonBody(createOrgBody, 'The new organization.') },
  responses: { 201: jsonContent(dataEnvelope(organizationSchema), 'The new organization.'), 409: slugConflict, ...bodyErrorResponses },
});

export const listOrgs = userRoute({
  method: 'get',
  path: '/orgs',
  tags,
  summary: 'List my organizations',
  description: 'The organizations the caller belongs to, with their role, sorted by name.',
  request: { query: listOrgsQuery },
  responses: { 200: jsonContent(listEnvelope(organizationSchema), 'A page of organizations.') },
});

export const getOrg = orgRoute('org:read', {
  method: 'get',
  path: '/orgs/{orgId}',
  tags,
  edgeCache: true,
  summary: 'Get an organization',
  request: { params: orgParams },
  responses: { 200: jsonContent(dataEnvelope(organizationSchema), 'The organization.') },
});

export const updateOrg = orgRoute('org:update', {
  method: 'patch',
  path: '/orgs/{orgId}',
  tags,
  summary: 'Rename an organization or change its slug',
  description: 'The subscription tier is set by billing and cannot be changed here.',
  request: { params: orgParams, body: jsonBody(updateOrgBody, 'The fields to change; the others are kept.') },
  responses: { 200: jsonContent(dataEnvelope(organizationSchema), 'The organization.'), 409: slugConflict, ...bodyErrorResponses },
});

export const deleteOrg = orgRoute('org:delete', {
  method: 'delete',
  path: '/orgs/{orgId}',
  tags,
  summary: 'Delete an organization',
  description: 'A soft delete: afterwards every route of the organization answers 404. Pending invitations are revoked.',
  request: { params: orgParams },
  responses: { 204: { description: 'Deleted.' } },
});
