import { bodyErrorResponses, errorResponse } from '../../errors.ts';
import { dataEnvelope, jsonContent } from '../../lib/envelope.ts';
import { jsonBody } from '../../lib/request-body.ts';
import { userRoute } from '../route-kinds.ts';
import { profileSchema, publicUserSchema, replaceUserBody, updateUserBody, userParams } from './users.schemas.ts';

export const getMe = userRoute({
  method: 'get',
  path: '/me',
  tags: ['Users'],
  summary: "The caller's profile",
  responses: { 200: jsonContent(dataEnvelope(profileSchema), 'The profile.') },
});

export const getUser = userRoute({
  method: 'get',
  path: '/users/{id}',
  tags: ['Users'],
  summary: "A user's public profile",
  description: 'Visible to the user themself and to users who share an organization with them; 404 to anyone else.',
  request: { params: userParams },
  responses: { 200: jsonContent(dataEnvelope(publicUserSchema), 'The public profile.') },
});

const ownProfileOnly = 'Only your own profile can be changed: 403 for another user you can see, 404 for one you cannot.';

export const replaceUser = userRoute({
  method: 'put',
  path: '/users/{id}',
  tags: ['Users'],
  summary: 'Replace the editable fields of your profile',
  description: ownProfileOnly,
  request: { params: userParams, body: jsonBody(replaceUserBody, 'Every editable field.') },
  responses: { ...bodyErrorResponses, 200: jsonContent(dataEnvelope(profileSchema), 'The updated profile.') },
});

export const updateUser = userRoute({
  method: 'patch',
  path: '/users/{id}',
  tags: ['Users'],
  summary: 'Change some fields of your profile',
  description: ownProfileOnly,
  request: { params: userParams, body: jsonBody(updateUserBody, 'The fields to change; the others are kept.') },
  responses: { ...bodyErrorResponses, 200: jsonContent(dataEnvelope(profileSchema), 'The updated profile.') },
});

export const deactivateUser = userRoute({
  method: 'delete',
  path: '/users/{id}',
  tags: ['Users'],
  summary: 'Deactivate your account',
  description:
    'Every session ends and every token stops working at once. Refused with 409 while you are the only active owner of an organization: transfer its ownership or delete it first.',
  request: { params: userParams },
  responses: {
    204: { description: 'The account is deactivated.' },
    409: errorResponse('You are the last owner of the organizations listed in `details.organizations`.'),
  },
});
