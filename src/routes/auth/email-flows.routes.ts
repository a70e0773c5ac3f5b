import { z } from '@hono/zod-openapi';
import { bodyErrorResponses, errorResponse } from '../../errors.ts';
import { dataEnvelope, jsonContent } from '../../lib/envelope.ts';
import { publicRoute, userRoute } from '../route-kinds.ts';
import { forgotPasswordBody, resetPasswordBody, verifyEmailBody } from './auth.schemas.ts';
import { jsonBody } from '../../lib/request-body.ts';

const badToken = {
  400: errorResponse('Validation failed, or the token is not valid (`BAD_REQUEST`, `details.reason: "token_invalid"`).'),
  410: errorResponse('The token has expired (`details.reason: "token_expired"`) or was already used (`"token_used"`).'),
};

const accepted = jsonContent(dataEnvelope(z.object({ status: z.literal('accepted') })), 'Accepted; the email is on its way.');

export const verifyEmailRoute = publicRoute({
  method: 'post',
  path: '/auth/verify-email',
  tags: ['Auth'],
  summary: 'Confirm an email address with the token from the verification email',
  request: { body: jsonBody(verifyEmailBody, 'The token from the verification email.') },
  responses: { ...bodyErrorResponses, ...badToken, 200: jsonContent(dataEnvelope(z.object({ emailVerified: z.literal(true) })), 'The email is verified.') },
});

export const resendVerificationRoute = userRoute({
  method: 'post',
  path: '/auth/verify-email/resend',
  tags: ['Auth'],
  summary: 'Send the verification email again',
  description:
    'Earlier verification links stay valid until they expire (24 hours). At most 1 email a minute and 5 an hour per account: ' +
    'beyond that the answer is the same 202 and no email is sent.',
  responses: { 202: accepted, 409: errorResponse('The email is already verified.') },
});

export const forgotPasswordRoute = publicRoute({
  method: 'post',
  path: '/auth/forgot-password',
  tags: ['Auth'],
  summary: 'Email a password-reset link',
  description:
    'Always answers 202, whether or not an account has this email, so the answer reveals nothing. The link is valid for one hour. ' +
    'At most 1 email a minute and 5 an hour per address: beyond that the answer is the same 202 and no email is sent.',
  request: { body: jsonBody(forgotPasswordBody, 'The address to send the link to.') },
  responses: { ...bodyErrorResponses, 202: accepted },
});

export const resetPasswordRoute = publicRoute({
  method: 'post',
  path: '/auth/reset-password',
  tags: ['Auth'],
  summary: 'Set a new password with the token from the reset email',
  description: 'Every session of the account is revoked: sign in again with the new password.',
  request: { body: jsonBody(resetPasswordBody, 'The token from the reset email and the new password.') },
  responses: { ...bodyErrorResponses, ...badToken, 204: { description: 'The password is changed.' } },
});
