import { bodyErrorResponses, errorResponse } from '../../errors.ts';
import { dataEnvelope, jsonContent } from '../../lib/envelope.ts';
import { orgParams } from '../../lib/fields.ts';
import { listEnvelope } from '../../lib/pagination.ts';
import { jsonBody } from '../../lib/request-body.ts';
import { orgRoute } from '../route-kinds.ts';
import { listMembersQuery, memberParams, memberSchema, updateMemberBody } from './members.schemas.ts';

const tags = ['Members'];
const ownershipConflict = errorResponse('The change would leave the organization without an owner.');

export const listMembers = orgRoute('members:read', {
  method: 'get',
  path: '/orgs/{orgId}/members',
  tags,
  summary: 'List the members of an organization',
  description: 'In the order they joined. Members see each other’s email addresses.',
  request: { params: orgParams, query: listMembersQuery },
  responses: { 200: jsonContent(listEnvelope(memberSchema), 'A page of members.') },
});

export const updateMember = orgRoute('members:write', {
  method: 'patch',
  path: '/orgs/{orgId}/members/{userId}',
  tags,
  summary: 'Change a member’s role',
  description: 'Only an owner may grant the owner role or change an owner’s role; the last owner cannot be demoted.',
  request: { params: memberParams, body: jsonBody(updateMemberBody, 'The new role.') },
  responses: { 200: jsonContent(dataEnvelope(memberSchema), 'The member, with the new role.'), 409: ownershipConflict, ...bodyErrorResponses },
});

export const removeMember = orgRoute('members:write', {
  method: 'delete',
  path: '/orgs/{orgId}/members/{userId}',
  tags,
  summary: 'Remove a member',
  description: 'Also removes their project roles. Only an owner may remove an owner; the last owner cannot be removed.',
  request: { params: memberParams },
  responses: { 204: { description: 'Removed.' }, 409: ownershipConflict },
});

export const leaveOrg = orgRoute('org:read', {
  method: 'post',
  path: '/orgs/{orgId}/leave',
  tags,
  summary: 'Leave an organization',
  description: 'Any member may leave, except the last owner. Also removes the caller’s project roles.',
  request: { params: orgParams },
  responses: { 204: { description: 'Left.' }, 409: ownershipConflict },
});
