import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { getCookie } from 'hono/cookie';
import type { AppEnv } from '../../env.ts';
import { ApiError, errorResponse } from '../../errors.ts';
import type { TokenPair } from '../../services/sessions.ts';

// Cookie mode for browser apps (README, "Cookie mode for browser apps"): the refresh token travels in an
// httpOnly cookie the page's JavaScript cannot read; the access token stays in the JSON body. `__Secure-`
// rather than `__Host-`: a `__Host-` cookie must have `Path=/`, and scoping the cookie to the auth routes keeps
// it off every other request. Always `Secure`: browsers accept it from http://localhost too.
export const REFRESH_COOKIE = '__Secure-refresh_token';
const COOKIE_PATH = '/api/v1/auth';
const COOKIE_ATTRIBUTES = `Path=${COOKIE_PATH}; HttpOnly; Secure; SameSite=Strict`;
export const CSRF_HEADER = 'X-CSRF';

export const tokenDeliveryField = z.enum(['body', 'cookie']).optional().openapi({
  description:
    '`body` (the default): both tokens in the JSON body. `cookie` (browser apps): the refresh token is set as the httpOnly cookie ' +
    `\`${REFRESH_COOKIE}\` (Path \`${COOKIE_PATH}\`, Secure, SameSite=Strict) and left out of the body; the request must send \`${CSRF_HEADER}: 1\` ` +
    'and come from an origin in `CORS_ORIGINS` (or the API\'s own), else 403 `CSRF_REJECTED`.',
});

type Delivery = z.infer<typeof tokenDeliveryField>;

/** The `Set-Cookie` that stores a refresh token, or (`undefined`) the one that removes it. */
function refreshCookie(token: string | undefined, maxAgeSeconds = 0): string {
  return `${REFRESH_COOKIE}=${token ?? ''}; Max-Age=${token ? maxAgeSeconds : 0}; ${COOKIE_ATTRIBUTES}`;
}

export const clearRefreshCookie = { 'Set-Cookie': refreshCookie(undefined) };

/** The refresh cookie the request carries, if any. */
export const presentedRefreshCookie = <E extends AppEnv>(c: Context<E>): string | undefined => getCookie(c, REFRESH_COOKIE);

/**
 * The CSRF wall of cookie mode (a cookie is sent by the browser whoever made the page): the custom header
 * `X-CSRF: 1`, which no cross-origin page can send without a CORS preflight the allowlist refuses, and an
 * `Origin` that is the API's own or in `CORS_ORIGINS`. A present `X-CSRF` must be `1` whatever the mode.
 */
export function checkCsrf<E extends AppEnv>(c: Context<E>, delivery: Delivery): void {
  const header = c.req.header(CSRF_HEADER);
  if (header !== undefined && header !== '1') throw csrfRejected(`${CSRF_HEADER} must be "1".`);
  if (delivery !== 'cookie') return;
  if (header === undefined) throw csrfRejected(`Cookie mode needs the header "${CSRF_HEADER}: 1".`);
  const origin = c.req.header('origin');
  if (origin === undefined || (origin !== new URL(c.req.url).origin && !c.var.config.CORS_ORIGINS.includes(origin))) {
    throw csrfRejected('Cookie mode is answered only to the API\'s own origin and the origins in CORS_ORIGINS.');
  }
}

const csrfRejected = (message: string) => new ApiError('CSRF_REJECTED', message);

/**
 * The `tokens` of the JSON answer: as they are in body mode; in cookie mode without the refresh token, which
 * is set as the cookie instead (for as long as a session lives at most; the server decides it is over).
 */
export function deliverTokens<E extends AppEnv>(c: Context<E>, tokens: TokenPair, delivery: Delivery): Omit<TokenPair, 'refreshToken'> & { refreshToken?: string } {
  if (delivery !== 'cookie') return tokens;
  const { refreshToken, ...rest } = tokens;
  c.header('Set-Cookie', refreshCookie(refreshToken, c.var.config.REFRESH_TOKEN_TTL_DAYS * 86_400));
  return rest;
}

// The contract pieces the auth routes spread in.
const setCookieHeader = (description: string) => ({ 'Set-Cookie': { description, schema: { type: 'string' } } }) as const;
export const setsRefreshCookie = setCookieHeader(`With \`tokenDelivery: "cookie"\`: \`${REFRESH_COOKIE}=rt_…; Max-Age=…; ${COOKIE_ATTRIBUTES}\`.`);
export const clearsRefreshCookie = setCookieHeader(`When the request carried the refresh cookie: \`${REFRESH_COOKIE}=; Max-Age=0; ${COOKIE_ATTRIBUTES}\` (removes it).`);
export const clearsRefreshCookieAlone = setCookieHeader(
  `When the request signed out with the refresh cookie alone (no credential header): \`${REFRESH_COOKIE}=; Max-Age=0; ${COOKIE_ATTRIBUTES}\` (removes it).`,
);
export const csrfParameter = {
  name: CSRF_HEADER,
  in: 'header',
  required: false,
  description: 'Required with `tokenDelivery: "cookie"` (CSRF protection); when sent, it must be `1`.',
  schema: { type: 'string', enum: ['1'] as string[] },
} as const;
export const logoutCsrfParameter = {
  ...csrfParameter,
  description: 'Required when the request signs out with the refresh cookie alone (no credential header; CSRF protection); when sent, it must be `1`.',
} as const;
export const refreshCookieParameter = {
  name: REFRESH_COOKIE,
  in: 'cookie',
  required: false,
  description: 'The refresh token of cookie mode, set by the server (httpOnly); the browser sends it.',
  schema: { type: 'string' },
} as const;
export const csrfRejectedResponse = {
  403: errorResponse(`\`CSRF_REJECTED\`: \`${CSRF_HEADER}\` is not \`1\`, or a cookie-mode request lacks it or comes from an origin outside \`CORS_ORIGINS\`.`),
} as const;
