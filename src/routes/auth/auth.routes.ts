import { z } from '@hono/zod-openapi';
import { bodyErrorResponses, errorResponse } from '../../errors.ts';
import { dataEnvelope, jsonContent } from '../../lib/envelope.ts';
import { jsonBody } from '../../lib/request-body.ts';
import { publicRoute, userRoute } from '../route-kinds.ts';
import { authResultSchema, loginBody, refreshBody, signupBody, tokensSchema } from './auth.schemas.ts';
import { accessTokenOrRefreshCookie, refreshCookieSecurity } from './cookie-sign-in.ts';
import {
  clearsRefreshCookie,
  clearsRefreshCookieAlone,
  csrfParameter,
  csrfRejectedResponse,
  logoutCsrfParameter,
  refreshCookieParameter,
  setsRefreshCookie,
} from './token-delivery.ts';

const retryAfter = { 'Retry-After': { description: 'Seconds to wait before trying again.', schema: { type: 'integer', minimum: 1 } } } as const;

export const signup = publicRoute({
  method: 'post',
  path: '/auth/signup',
  tags: ['Auth'],
  summary: 'Create an account and sign in',
  description:
    'Sends a verification email. The password must be 10–256 characters and not the email address. ' +
    'The answer depends on the deployment\'s `SIGNUP_RESPONSE`: `tokens` (the default) answers 201 with the account and its tokens, ' +
    'and 409 when the address is taken; `uniform` always answers the same 202 (no tokens: verify the email, then log in), ' +
    'and the owner of a taken address is emailed instead, so the answer never tells whether an account exists.',
  parameters: [csrfParameter],
  request: { body: jsonBody(signupBody, 'The new account.') },
  responses: {
    ...bodyErrorResponses,
    ...csrfRejectedResponse,
    201: { ...jsonContent(dataEnvelope(authResultSchema), 'The new account and its first tokens (`SIGNUP_RESPONSE=tokens`).'), headers: setsRefreshCookie },
    202: jsonContent(dataEnvelope(z.object({ status: z.literal('accepted') })), 'Accepted (`SIGNUP_RESPONSE=uniform`): the same answer whether or not the address is taken.'),
    409: errorResponse('An account with this email already exists (`SIGNUP_RESPONSE=tokens` only).'),
  },
});

export const login = publicRoute({
  method: 'post',
  path: '/auth/login',
  tags: ['Auth'],
  summary: 'Sign in with email and password',
  description:
    'Throttled per account and per client IP: after 5 consecutive failures for an account (20 from one IP), each next attempt must wait ' +
    '1 s, then 2 s, 4 s … up to 15 minutes after the last failure; a successful sign-in starts the account\'s count again. ' +
    'Unknown accounts are counted and answered exactly like known ones.',
  parameters: [csrfParameter],
  request: { body: jsonBody(loginBody, 'The credentials.') },
  responses: {
    ...bodyErrorResponses,
    ...csrfRejectedResponse,
    200: { ...jsonContent(dataEnvelope(authResultSchema), 'The account and a new session.'), headers: setsRefreshCookie },
    401: errorResponse('Invalid email or password (the same answer whether or not the account exists).'),
    429: {
      ...errorResponse('Too many failed attempts (`RATE_LIMITED`); `details`: `{ policy: "login-account" | "login-ip", retryAfterSeconds }`.'),
      headers: retryAfter,
    },
  },
});

export const refresh = publicRoute({
  method: 'post',
  path: '/auth/refresh',
  tags: ['Auth'],
  summary: 'Exchange a refresh token for a new token pair',
  description:
    'Refresh tokens are single use. Concurrent refreshes of the same token within a short grace window all receive the same new pair; ' +
    'presenting a used token after that revokes the whole session. ' +
    'Cookie mode (`{"tokenDelivery": "cookie"}`, `X-CSRF: 1`, an allowed `Origin`) takes the token from the refresh cookie and sets its successor there; ' +
    'a refresh token in the body while the request carries the cookie is a 400.',
  parameters: [csrfParameter, refreshCookieParameter],
  request: { body: jsonBody(refreshBody, 'The refresh token to exchange (body mode), or `{"tokenDelivery": "cookie"}`.') },
  responses: {
    ...bodyErrorResponses,
    ...csrfRejectedResponse,
    200: { ...jsonContent(dataEnvelope(z.object({ tokens: tokensSchema })), 'The new token pair (in cookie mode, the refresh token is the cookie).'), headers: setsRefreshCookie },
    401: {
      ...errorResponse('The token is invalid, expired, revoked — or was reused, which revoked its session (`details.reason`); a refresh cookie is then removed.'),
      headers: clearsRefreshCookie,
    },
  },
});

export const logout = userRoute(
  {
    method: 'post',
    path: '/auth/logout',
    tags: ['Auth'],
    summary: 'Sign out: revoke the current session',
    description:
      'Its refresh token and every access token of the session stop working at once. Signed in to by the access token (`Authorization: Bearer`), ' +
      'or, without a credential header, by the refresh cookie of cookie mode alone (a browser app that reloaded or whose access token expired), ' +
      'with `X-CSRF: 1` and an allowed `Origin`, as cookie-mode refresh; limited per IP as refresh is, then per user. ' +
      'With a credential header, it alone decides which session ends, and a refresh cookie the request carries is removed unexamined. ' +
      'A cookie that names no live session (expired, revoked, already exchanged, not a token) is answered 401 `refresh_token_invalid` and removed.',
    parameters: [logoutCsrfParameter, refreshCookieParameter],
    responses: {
      204: { description: 'Signed out.', headers: clearsRefreshCookie },
      401: {
        ...errorResponse(
          'Missing, invalid or expired credentials; signing out with the refresh cookie alone, a cookie that names no live session (`details.reason: "refresh_token_invalid"`): treat it as signed out.',
        ),
        headers: clearsRefreshCookieAlone,
      },
      403: errorResponse(
        '`FORBIDDEN`: an API key (user routes take access tokens only). `CSRF_REJECTED`: `X-CSRF` is not `1`, or a request signing out with the refresh cookie alone ' +
          'lacks it or comes from an origin outside `CORS_ORIGINS`; nothing is revoked and the cookie is kept.',
      ),
    },
  },
  { authenticate: accessTokenOrRefreshCookie(), security: refreshCookieSecurity },
);
