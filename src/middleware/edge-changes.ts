import type { Context } from 'hono';
import { orgAuthorityFor } from '../../durable-objects/org-authority/index.ts';
import { userAuthorityFor } from '../../durable-objects/user-authority/index.ts';
import type { AppEnv } from '../env.ts';
import { describeError, log } from '../lib/log.ts';
import { orgIdsOfUser } from '../services/sessions.ts';
import { promptFanOut } from '../services/webhook-fanout.ts';
import { requestDatabase } from './database.ts';
import { forgetSpent } from './edge-admission.ts';

// Writes tell the org's edge authority (durable-objects/org-authority) what they changed, before their response
// leaves: the authority's half of "revocation is immediate" and "read-your-writes" (README, "The request path").

/**
 * After a write that may have committed: tells the org's authority, before the response leaves, so no later
 * request is admitted on a grant it changed, or served a body it made stale (`grants` drops every grant,
 * `data` moves the data version). A failure is retried once, then logged:
 * the authority's grants then expire within its maximum age (10 min).
 */
export async function reportWrite<E extends AppEnv>(c: Context<E>, orgId: string, kind: 'grants' | 'data'): Promise<void> {
  // This isolate may hold the org's limits as spent; a grant change (a new tier among them) lifts that here at
  // once, and elsewhere when the refusal it holds runs out (within a window).
  if (kind === 'grants') forgetSpent(orgId);
  // Held by waitUntil too: a client that hangs up after the commit does not cancel the report.
  const reported = tellAuthority(c.env, orgId, kind);
  c.executionCtx.waitUntil(reported);
  // The write's audit entries become webhook events (services/webhook-fanout.ts); off the response's path.
  c.executionCtx.waitUntil(promptFanOut(c.env, orgId));
  await reported;
}

function tellAuthority(env: Env, orgId: string, kind: 'grants' | 'data'): Promise<void> {
  return retriedOnce(() => orgAuthorityFor(env, orgId).changed(kind), { orgId, kind });
}

/** Tells an authority of a committed write: retried once, then logged (what it holds then expires within its maximum age, 10 min). */
async function retriedOnce(tell: () => Promise<unknown>, context: Record<string, unknown>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await tell();
      return;
    } catch (error) {
      if (attempt === 2) {
        log('error', 'edge authority not told of a committed write', { ...context, error: describeError(error) });
        return;
      }
    }
  }
}

/**
 * After a user-level write that changed a user's access in these orgs (an accepted invitation, an org's limits):
 * tells each org's authority before the response leaves.
 */
export async function reportGrantsChanged<E extends AppEnv>(c: Context<E>, orgIds: readonly string[]): Promise<void> {
  await Promise.all(orgIds.map((orgId) => reportWrite(c, orgId, 'grants')));
}

/**
 * After a write that ended sessions of `userId` (a logout, revoked sessions, a new password, a deactivated account):
 * tells the user's own edge authority (durable-objects/user-authority) and each of their orgs' before the response
 * leaves. The writes return the org ids in their own round trip; each handler that makes such a write calls this,
 * and test/integration/edge-authority.test.ts and user-authority.test.ts hold every one of them to it.
 */
export async function reportSessionsEnded<E extends AppEnv>(c: Context<E>, userId: string, orgIds: readonly string[]): Promise<void> {
  const told = retriedOnce(() => userAuthorityFor(c.env, userId).changed(), { userId });
  // Held by waitUntil too: a client that hangs up after the commit does not cancel the report.
  c.executionCtx.waitUntil(told);
  await Promise.all([told, reportGrantsChanged(c, orgIds)]);
}

/** As `reportSessionsEnded`, for a write that knows only the user (a reused refresh token): one more round trip. Answers the orgs. */
export async function reportUserSessionsEnded<E extends AppEnv>(c: Context<E>, userId: string): Promise<string[]> {
  const orgIds = await orgIdsOfUser(requestDatabase(c), userId);
  await reportSessionsEnded(c, userId, orgIds);
  return orgIds;
}
