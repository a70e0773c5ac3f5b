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
 * `data` moves the data version). See `tell` for what happens when it cannot be reached.
 */
export async function reportWrite<E extends AppEnv>(c: Context<E>, orgId: string, kind: 'grants' | 'data'): Promise<void> {
  // This isolate may hold the org's limits as spent; a grant change (a new tier among them) lifts that here at
  // once, and elsewhere when the refusal it holds runs out (within a window).
  if (kind === 'grants') forgetSpent(orgId);
  // The write's audit entries become webhook events (services/webhook-fanout.ts); off the response's path.
  c.executionCtx.waitUntil(promptFanOut(c.env, orgId));
  await tell(c, () => orgAuthorityFor(c.env, orgId).changed(kind), { orgId, kind });
}

/** When the tells that missed before the response are tried again (ms after the last): inside the 30 s a Worker may run on after it. */
const LATER_TELLS_MS = [1_000, 2_000, 4_000, 8_000];

/**
 * Tells an authority of a committed write: twice before the response leaves (a blip), then, should both fail, in
 * the background with backoff (LATER_TELLS_MS), logged. Held by waitUntil, so a client that hangs up after the commit
 * cancels nothing. An authority never told drops what it holds within its maximum age (10 min); meanwhile it may
 * still admit a grant the write revoked, which the error log says.
 */
async function tell<E extends AppEnv>(c: Context<E>, call: () => Promise<unknown>, context: Record<string, unknown>): Promise<void> {
  const beforeResponse = (async () => (await failureOf(call)) && failureOf(call))();
  c.executionCtx.waitUntil(beforeResponse.then((failure) => failure && keepTelling(call, { ...context, error: describeError(failure.error) })));
  await beforeResponse;
}

async function failureOf(call: () => Promise<unknown>): Promise<{ error: unknown } | undefined> {
  try {
    await call();
    return undefined;
  } catch (error) {
    return { error };
  }
}

async function keepTelling(call: () => Promise<unknown>, context: Record<string, unknown>): Promise<void> {
  log('error', 'edge authority not told of a committed write before its response: trying again in the background', context);
  for (const delay of LATER_TELLS_MS) {
    await new Promise((resolve) => setTimeout(resolve, delay));
    const failure = await failureOf(call);
    if (!failure) return log('info', 'edge authority told of a committed write, late', context);
    context = { ...context, error: describeError(failure.error) };
  }
  log('error', 'edge authority never told of a committed write: what it holds expires within its maximum age (10 min)', context);
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
  await Promise.all([tell(c, () => userAuthorityFor(c.env, userId).changed(), { userId }), reportGrantsChanged(c, orgIds)]);
}

/** As `reportSessionsEnded`, for a write that knows only the user (a reused refresh token, a user write that failed): one more round trip. Answers the orgs. */
export async function reportUserSessionsEnded<E extends AppEnv>(c: Context<E>, userId: string): Promise<string[]> {
  // The user's own authority is told even when the orgs cannot be listed.
  const [orgIds] = await Promise.all([orgIdsOfUser(requestDatabase(c), userId), tell(c, () => userAuthorityFor(c.env, userId).changed(), { userId })]);
  await reportGrantsChanged(c, orgIds);
  return orgIds;
}
