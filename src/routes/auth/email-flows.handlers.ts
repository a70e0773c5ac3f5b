import type { RouteHandler } from '@hono/zod-openapi';
import { describeError, log } from '../../lib/log.ts';
import { enqueueJob } from '../../services/jobs.ts';
import type { forgotPasswordRoute, resendVerificationRoute, resetPasswordRoute, verifyEmailRoute } from './email-flows.routes.ts';
import { reportGrantsChanged } from '../../middleware/edge-admission.ts';
import { issuePasswordReset, issueVerification, resetPassword, verifyEmail } from '../../services/email-tokens.ts';

/** One statement: the token is checked, spent and the email marked verified together. */
export const verifyEmailHandler: RouteHandler<typeof verifyEmailRoute> = async (c) => {
  await verifyEmail(c.var.unscopedDb, c.req.valid('json').token);
  return c.json({ data: { emailVerified: true as const } }, 200);
};

/** One round trip (gate + new token), then the email is queued. */
export const resendVerificationHandler: RouteHandler<typeof resendVerificationRoute> = async (c) => {
  const { to, name, token } = await issueVerification(c.var.account);
  await enqueueJob(c.env.JOBS, 'email.send', { to, template: 'verify-email', data: { token, name } });
  return c.json({ data: { status: 'accepted' as const } }, 202);
};

/**
 * Answers 202 at once and does the work after the response (`waitUntil`): whether the account exists
 * changes neither the answer nor its timing.
 */
export const forgotPasswordHandler: RouteHandler<typeof forgotPasswordRoute> = (c) => {
  const { email } = c.req.valid('json');
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
  const { orgIds } = await resetPassword(c.var.unscopedDb, token, password);
  await reportGrantsChanged(c, orgIds);
  return c.body(null, 204);
};
