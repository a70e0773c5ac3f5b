import { z } from '@hono/zod-openapi';
import { bodyErrorResponses, errorResponse } from '../../errors.ts';
import { dataEnvelope, jsonContent } from '../../lib/envelope.ts';
import { jsonBody } from '../../lib/request-body.ts';
import { publicRoute, userRoute } from '../route-kinds.ts';
import { authResultSchema, loginBody, refreshBody, signupBody, tokensSchema } from './auth.schemas.ts';

export const signup = publicRoute({
  method: 'post',
  path: '/auth/signup',
  tags: ['Auth'],
  summary: 'Create an account and sign in',
  description: 'Sends a verification email. The password must be 10–256 characters and not the email address.',
  request: { body: jsonBody(signupBody, 'The new account.') },
  responses: {
    ...bodyErrorResponses,
    201: jsonContent(dataEnvelope(authResultSchema), 'The new account and its first tokens.'),
    409: errorResponse('An account with this email already exists.'),
  },
});

export const login = publicRoute({
  method: 'post',
  path: '/auth/login',
  tags: ['Auth'],
  summary: 'Sign in with email and password',
  request: { body: jsonBody(loginBody, 'The credentials.') },
  responses: {
    ...bodyErrorResponses,
    200: jsonContent(dataEnvelope(authResultSchema), 'The account and a new session.'),
    401: errorResponse('Invalid email or password (the same answer whether or not the account exists).'),
  },
});

export const refresh = publicRoute({
  method: 'post',
  path: '/auth/refresh',
  tags: ['Auth'],
  summary: 'Exchange a refresh token for a new token pair',
  description:
    'Refresh tokens are single use. Concurrent refreshes of the same token within a short grace window all receive the same new pair; ' +
    'presenting a used token after that revokes the whole session.',
  request: { body: jsonBody(refreshBody, 'The refresh token to exchange.') },
  responses: {
    ...bodyErrorResponses,
    200: jsonContent(dataEnvelope(z.object({ tokens: tokensSchema })), 'The new token pair.'),
    401: errorResponse('The token is invalid, expired, revoked — or was reused, which revoked its session (`details.reason`).'),
  },
});

export const logout = userRoute({
  method: 'post',
  path: '/auth/logout',
  tags: ['Auth'],
  summary: 'Sign out: revoke the current session',
  description: 'Its refresh token and every access token of the session stop working at once.',
  responses: { 204: { description: 'Signed out.' } },
});
