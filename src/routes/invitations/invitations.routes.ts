import { bodyErrorResponses, errorResponse, quotaErrorResponses } from '../../errors.ts';
import { dataEnvelope, jsonContent } from '../../lib/envelope.ts';
import { orgParams } from '../../lib/fields.ts';
import { listEnvelope } from '../../lib/pagination.ts';
import { jsonBody } from '../../lib/request-body.ts';
import { orgRoute, userRoute } from '../route-kinds.ts';
import {
  acceptedInvitationSchema,
  acceptInvitationBody,
  createInvitationBody,
  invitationParams,
  invitationSchema,
  listInvitationsQuery,
} from './invitations.schemas.ts';

const tags = ['Invitations'];

export const createInvitation = orgRoute('invitations:write', {
  method: 'post',
  path: '/orgs/{orgId}/invitations',
  tags,
  summary: 'Invite someone by email',
  description: 'Emails a link valid for 7 days. The inviter may not grant a role above their own (API keys count as admins).',
  request: { params: orgParams, body: jsonBody(createInvitationBody, 'Who to invite, and as what.') },
  responses: {
    201: jsonContent(dataEnvelope(invitationSchema), 'The invitation (without its token).'),
    409: errorResponse('The address belongs to a member or already has a pending invitation.'),
    503: errorResponse('The invitation email could not be queued; nothing was created.'),
    ...bodyErrorResponses,
    ...quotaErrorResponses,
  },
});

export const listInvitations = orgRoute('invitations:read', {
  method: 'get',
  path: '/orgs/{orgId}/invitations',
  tags,
  summary: 'List invitations',
  description: 'Newest first, optionally filtered by status.',
  request: { params: orgParams, query: listInvitationsQuery },
  responses: { 200: jsonContent(listEnvelope(invitationSchema), 'A page of invitations.') },
});

export const revokeInvitation = orgRoute('invitations:write', {
  method: 'delete',
  path: '/orgs/{orgId}/invitations/{invitationId}',
  tags,
  summary: 'Revoke an invitation',
  description: 'Its link stops working. Revoking a revoked invitation changes nothing.',
  request: { params: invitationParams },
  responses: { 204: { description: 'Revoked.' }, 409: errorResponse('The invitation has already been accepted.') },
});

export const acceptInvitation = userRoute({
  method: 'post',
  path: '/invitations/accept',
  tags,
  summary: 'Accept an invitation',
  description: 'As the signed-in user the invitation was sent to; makes them a member with the invited role.',
  request: { body: jsonBody(acceptInvitationBody, 'The token from the invitation email.') },
  responses: {
    200: jsonContent(dataEnvelope(acceptedInvitationSchema), 'Now a member.'),
    409: errorResponse('Already accepted, or already a member.'),
    410: errorResponse('The invitation has expired.'),
    ...bodyErrorResponses,
  },
});
