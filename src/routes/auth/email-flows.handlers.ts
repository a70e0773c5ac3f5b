import type { RouteHandler } from '@hono/zod-openapi';
import { describeError, log } from '../../lib/log.ts';
import { mayEmail } from '../../services/auth-throttle.ts';
import { enqueueJob } from '../../services/jobs.ts';
import type { forgotPasswordRoute, resendVerificationRoute, resetPasswordRoute, verifyEmailRoute } from './email-flows.routes.ts';
import { reportSessionsEnded } from '../../middleware/edge-changes.ts';
import { disconnectSockets } from '../../middleware/room-changes.ts';
import { notify } from '../../middleware/notify.ts';
import { issuePasswordReset, issueVerification, resetPassword, verifyEmail } from '../../services/email-tokens.ts';

/** One statement: the token is checked, spent and the email marked verified together. */
export const verifyEmailHandler: RouteHandler<typeof verifyEmailRoute> = async (c) => {
  await verifyEmail(c.var.unscopedDb, c.req.valid('json').token);
  return c.json({ data: { emailVerified: true as const } }, 200);
};

/**
 * One round trip (gate + new token; 409 once verified), then the email is queued — at most 1 a minute and
 * 5 an hour per account: beyond that the answer is the same 202 and the new token is never sent.
 */
export const resendVerificationHandler: RouteHandler<typeof resendVerificationRoute> = async (c) => {
  const { to, name, token } = await issueVerification(c.var.account);
  if (await mayEmail(c.env, c.var.config, 'verify-resend', c.var.actor.id)) {
    await enqueueJob(c.env.JOBS, 'email.send', { to, template: 'verify-email', data: { token, name } });
  }
  return c.json({ data: { status: 'accepted' as const } }, 202);
};

/**
 * Answers 202 and does the work after the response (`waitUntil`): whether the account exists changes
 * neither the answer nor its timing. The address's email cap (1 a minute, 5 an hour) is checked first,
 * the same way for every address; beyond it the answer is the same 202 and nothing is sent.
 */
export const forgotPasswordHandler: RouteHandler<typeof forgotPasswordRoute> = async (c) => {
  const { email } = c.req.valid('json');
  if (!(await mayEmail(c.env, c.var.config, 'password-reset', email))) return c.json({ data: { status: 'accepted' as const } }, 202);
  const work = async () => {
    const reset = await issuePasswordReset(c.var.unscopedDb, email);
    if (reset) await enqueueJob(c.env.JOBS, 'email.send', { to: reset.to, template: 'reset-password', data: { token: reset.token, name: reset.name } });
  };
  c.executionCtx.waitUntil(work().catch((error: unknown) => log('error', 'password reset email failed', { error: describeError(error) })));
  return c.json({ data: { status: 'accepted' as const } }, 202);
};

/** Two round trips (see `resetPassword`); every session of the account ends. */
export const resetPasswordHandler: RouteHandler<typeof resetPasswordRoute> = async (c) => {
  const { token, password } = c.req.valid('json');
  const { orgIds, userId } = await resetPassword(c.var.unscopedDb, token, password);
  await reportSessionsEnded(c, userId, orgIds);
  await disconnectSockets(c, orgIds, { userId }, 'revoked');
  notify(c, { type: 'security.password_changed', userId });
  return c.body(null, 204);
};
