import type { RouteHandler } from '@hono/zod-openapi';
import { ApiError } from '../../errors.ts';
import { describeError, log } from '../../lib/log.ts';
import { requestMeta } from '../../middleware/request-meta.ts';
import { createAccount, logIn, signUpQuietly } from '../../services/accounts.ts';
import { beginLogin } from '../../services/auth-throttle.ts';
import { enqueueJob } from '../../services/jobs.ts';
import { revokeSession, rotateRefreshToken } from '../../services/sessions.ts';
import { reportSessionsEnded } from '../../middleware/edge-changes.ts';
import { disconnectSockets, refreshTokenReused } from '../../middleware/room-changes.ts';
import { notify } from '../../middleware/notify.ts';
import { toProfile } from '../users/users.schemas.ts';
import { refreshTokenPattern } from './auth.schemas.ts';
import type { login, logout, refresh, signup } from './auth.routes.ts';
import { checkCsrf, clearRefreshCookie, deliverTokens, presentedRefreshCookie } from './token-delivery.ts';

/**
 * One round trip for the account (user, credentials, session, refresh token, verification token), then the
 * verification email is queued. A failed enqueue is logged, not returned: the account exists, so an error
 * would only make the client retry into a 409; the user can ask for the email again.
 *
 * With `SIGNUP_RESPONSE=uniform` it answers 202 at once and does the work after the response: whether the
 * address was taken changes neither the answer nor its timing.
 */
export const signupHandler: RouteHandler<typeof signup> = async (c) => {
  const { tokenDelivery, ...input } = c.req.valid('json');
  checkCsrf(c, tokenDelivery);
  if (c.var.config.SIGNUP_RESPONSE === 'uniform') {
    c.executionCtx.waitUntil(signUpQuietly(c.env, c.var.unscopedDb, c.var.config, input, requestMeta(c)));
    return c.json({ data: { status: 'accepted' as const } }, 202);
  }
  const { profile, tokens, verificationToken } = await createAccount(c.var.unscopedDb, c.var.config, input, requestMeta(c));
  await enqueueJob(c.env.JOBS, 'email.send', { to: profile.email, template: 'verify-email', data: { token: verificationToken, name: profile.name } }).catch(
    (error: unknown) => log('error', 'could not queue the verification email', { userId: profile.id, error: describeError(error) }),
  );
  return c.json({ data: { user: toProfile(profile), tokens: deliverTokens(c, tokens, tokenDelivery) } }, 201);
};

/**
 * Throttled per account and per client IP first (growing delays after consecutive failures, see
 * services/auth-throttle.ts), then two round trips: the account lookup, then the new session (see `logIn`).
 */
export const loginHandler: RouteHandler<typeof login> = async (c) => {
  const { tokenDelivery, ...input } = c.req.valid('json');
  checkCsrf(c, tokenDelivery);
  const meta = requestMeta(c);
  const attempt = await beginLogin(c.env, c.var.config, input.email, meta.ip);
  try {
    const { profile, tokens, sessionId } = await logIn(c.var.unscopedDb, c.var.config, input, meta);
    await attempt.succeeded();
    notify(c, { type: 'security.sign_in', userId: profile.id, sessionId });
    return c.json({ data: { user: toProfile(profile), tokens: deliverTokens(c, tokens, tokenDelivery) } }, 200);
  } catch (error) {
    // A wrong password stays counted; anything else checked no password, so it does not count.
    if (!(error instanceof ApiError && error.code === 'UNAUTHORIZED')) await attempt.abandoned();
    throw error;
  }
};

/**
 * One round trip (`refresh_rotate`). The token comes from the body or, in cookie mode, from the cookie (after the
 * CSRF check); a cookie that names no live session is removed with the 401.
 */
export const refreshHandler: RouteHandler<typeof refresh> = async (c) => {
  const { refreshToken, tokenDelivery } = c.req.valid('json');
  checkCsrf(c, tokenDelivery);
  const cookie = presentedRefreshCookie(c);
  if (refreshToken !== undefined && cookie !== undefined) throw new ApiError('BAD_REQUEST', 'Send one refresh token: the cookie (tokenDelivery "cookie") or the body, not both.');
  const presented = refreshToken ?? cookie;
  try {
    if (presented === undefined || !refreshTokenPattern.test(presented)) {
      throw new ApiError('UNAUTHORIZED', 'No refresh cookie, or not a refresh token. Sign in again.', { reason: 'refresh_token_invalid' });
    }
    const tokens = await rotateRefreshToken(c.var.unscopedDb, c.var.config, presented, (userId, sessionId) => refreshTokenReused(c, userId, sessionId));
    return c.json({ data: { tokens: deliverTokens(c, tokens, tokenDelivery) } }, 200);
  } catch (error) {
    if (cookie !== undefined && error instanceof ApiError && error.code === 'UNAUTHORIZED') throw new ApiError(error.code, error.message, error.details, clearRefreshCookie);
    throw error;
  }
};

/**
 * One round trip: the gate (a logged-out session answers 401) and the revocation; the org authorities and the
 * session's sockets hear of it before the answer leaves. Signed in to by the access token or, in cookie mode,
 * by the refresh cookie alone (routes/auth/cookie-sign-in.ts, one lookup more): a cookie the request carries is
 * removed either way.
 */
export const logoutHandler: RouteHandler<typeof logout> = async (c) => {
  // The cookie's sign-in has checked it already; a bearer request may send it too, and then it must be `1`.
  checkCsrf(c, undefined);
  const { orgIds } = await revokeSession(c.var.account, c.var.actor.sessionId, 'logout');
  await reportSessionsEnded(c, c.var.actor.id, orgIds);
  await disconnectSockets(c, orgIds, { sessionId: c.var.actor.sessionId }, 'revoked');
  return c.body(null, 204, presentedRefreshCookie(c) === undefined ? {} : clearRefreshCookie);
};
