import type { RouteHandler } from '@hono/zod-openapi';
import { describeError, log } from '../../lib/log.ts';
import { requestMeta } from '../../middleware/request-meta.ts';
import { createAccount, logIn } from '../../services/accounts.ts';
import { enqueueJob } from '../../services/jobs.ts';
import { revokeSession, rotateRefreshToken } from '../../services/sessions.ts';
import { reportGrantsChanged, reportUserWrite } from '../../middleware/edge-admission.ts';
import { toProfile } from '../users/users.schemas.ts';
import type { login, logout, refresh, signup } from './auth.routes.ts';

/**
 * One round trip for the account (user, credentials, session, refresh token, verification token), then the
 * verification email is queued. A failed enqueue is logged, not returned: the account exists, so an error
 * would only make the client retry into a 409; the user can ask for the email again.
 */
export const signupHandler: RouteHandler<typeof signup> = async (c) => {
  const input = c.req.valid('json');
  const { profile, tokens, verificationToken } = await createAccount(c.var.unscopedDb, c.var.config, input, requestMeta(c));
  await enqueueJob(c.env.JOBS, 'email.send', { to: profile.email, template: 'verify-email', data: { token: verificationToken, name: profile.name } }).catch(
    (error: unknown) => log('error', 'could not queue the verification email', { userId: profile.id, error: describeError(error) }),
  );
  return c.json({ data: { user: toProfile(profile), tokens } }, 201);
};

/** Two round trips: the account lookup, then the new session (see `logIn`). */
export const loginHandler: RouteHandler<typeof login> = async (c) => {
  const { profile, tokens } = await logIn(c.var.unscopedDb, c.var.config, c.req.valid('json'), requestMeta(c));
  return c.json({ data: { user: toProfile(profile), tokens } }, 200);
};

/** One round trip (`refresh_rotate`). */
export const refreshHandler: RouteHandler<typeof refresh> = async (c) => {
  const tokens = await rotateRefreshToken(c.var.unscopedDb, c.var.config, c.req.valid('json').refreshToken, (userId) => reportUserWrite(c, userId));
  return c.json({ data: { tokens } }, 200);
};

/** One round trip: the gate (a logged-out session answers 401) and the revocation. */
export const logoutHandler: RouteHandler<typeof logout> = async (c) => {
  const { orgIds } = await revokeSession(c.var.account, c.var.actor.sessionId, 'logout');
  await reportGrantsChanged(c, orgIds);
  return c.body(null, 204);
};
