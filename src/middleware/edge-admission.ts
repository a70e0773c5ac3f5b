import type { Context } from 'hono';
import { grantSnapshot, orgAuthorityFor, type AdmitRequest, type AdmitResult, type LimitRefusal, type OrgAuthorityStub } from '../../durable-objects/org-authority/index.ts';
import { createMemoryCache } from '../cache/memory-cache.ts';
import { apiErrorFromDatabase, gateRefusal } from '../db/errors.ts';
import type { Actor, ScopedDatabase } from '../db/tenant.ts';
import type { AppEnv } from '../env.ts';
import { COLD_ADMISSIONS_PER_MINUTE, RATE_WINDOW_SECONDS, type OrgRouteClass, type Tier } from '../lib/limits.ts';
import { describeError, log } from '../lib/log.ts';
import type { Permission } from '../lib/permissions.ts';
import { limitOrUnreachable, rateLimited, setRateLimitHeaders } from './rate-limit.ts';

// An org whose limit for a class is spent (or a caller whose own limit in it is) is refused here until the log
// frees a slot, without asking its authority again: a tenant far over its limit costs its authority one call
// per isolate per window. Exact: no slot of that limit can free before its own `retryAfter`, which the authority
// computed from its log. Entries name the org's generation in this isolate, so a change of its limits or grants
// lifts them all at once.
const spent = createMemoryCache<string, { until: number; generation: string; refusal: LimitRefusal }>({ name: 'rate-limit-spent', max: 10_000 });
const generations = createMemoryCache<string, string>({ name: 'rate-limit-spent-generations', max: 10_000 });
/** Forgets that `orgId`'s limits (and its callers') were spent, in this isolate: its limits or grants have just changed. */
export function forgetSpent(orgId: string): void {
  generations.set(orgId, crypto.randomUUID());
}

/** A refusal this isolate holds for `key` of `orgId`, if it still stands. */
function heldRefusal(orgId: string, key: string, now: number): { until: number; refusal: LimitRefusal } | undefined {
  const held = spent.get(key);
  return held && held.until > now && held.generation === (generations.get(orgId) ?? '') ? held : undefined;
}

// Callers this isolate has seen admitted (or limited) in an org: the only ones `spent` answers for.
const admittedCallers = createMemoryCache<string, true>({ name: 'edge-admitted-callers', max: 20_000, ttlMs: 10 * 60_000 });

/** What an org route learned at the edge: the caller's handle and, when its authority admitted it, the org's data version. */
export interface Admission {
  tenant: ScopedDatabase;
  /** Names the org's data as of this request; cached bodies are keyed by it. Undefined when the authority was not reached. */
  dataVersion?: string;
  /** The org's tier, as the authority knows it (for flag targeting). */
  tier?: Tier;
}

interface AdmitInput {
  actor: Actor;
  orgId: string;
  permission: Permission;
  projectId?: string;
  routeClass: OrgRouteClass;
  /** The route's scoped handle; `admitted` when the authority has admitted the caller already. */
  scope(admitted?: { role: string }): ScopedDatabase;
}

/**
 * Admits an org route's caller through the org's edge authority (durable-objects/org-authority): on a warm
 * grant one call answers "admitted, and within the org's limit" with no Postgres; on a cold one the gate
 * runs alone in Postgres, its grant is handed to the authority, and the authority counts the request. The
 * limit is counted only for admitted callers, so strangers cannot spend an org's budget. When the authority
 * cannot be reached the request fails open to the Postgres gate alone (not counted), and it is logged.
 */
export async function admitAtEdge<E extends AppEnv>(c: Context<E>, input: AdmitInput): Promise<Admission> {
  const request: AdmitRequest = { subject: subjectOf(input.actor), permission: input.permission, projectId: input.projectId, routeClass: input.routeClass };
  const spentKey = `${input.orgId}:${input.routeClass}`;
  const callerKey = `${input.orgId}:${credentialOf(request.subject)}`;
  // Held per credential (the authority counts a user across sessions): another session of a spent user asks once more.
  const callerSpentKey = `${callerKey}:${input.routeClass}`;
  const now = Date.now();
  const held = heldRefusal(input.orgId, spentKey, now) ?? heldRefusal(input.orgId, callerSpentKey, now);
  // Only for a caller this isolate has seen admitted: anyone else learns nothing of the org's traffic.
  if (held && admittedCallers.get(callerKey)) {
    const retryAfterMs = held.until - now;
    throw rateLimited(input.routeClass, { ...held.refusal.decision, resetMs: retryAfterMs, retryAfterMs }, held.refusal.scope);
  }

  let authority: OrgAuthorityStub;
  let result: AdmitResult;
  try {
    authority = orgAuthorityFor(c.env, input.orgId);
    result = await authority.admit(request);
  } catch (error) {
    log('error', 'edge authority unreachable: admitting through Postgres alone, not rate limited', { orgId: input.orgId, error: describeError(error) });
    return { tenant: input.scope() };
  }
  if (result.status === 'unknown') {
    await spendColdBudget(c, request.subject);
    const tenant = input.scope();
    const grant = await confirmInPostgres(c, tenant, result.grantEpoch, request, authority);
    if (!grant) return { tenant };
    try {
      result = await authority.fill(result.grantEpoch, request, grant);
    } catch (error) {
      log('error', 'edge authority unreachable after the gate: admitted, not rate limited', { orgId: input.orgId, error: describeError(error) });
      return { tenant };
    }
    if (result.status === 'admitted') return admitted(c, input, result, tenant, callerKey);
  }
  if (result.status === 'admitted') return admitted(c, input, result, input.scope({ role: result.role }), callerKey);
  if (result.status === 'limited') {
    admittedCallers.set(callerKey, true);
    const generation = generations.get(input.orgId) ?? '';
    // An authority of an earlier version (a gradual deployment) knows only the org's limit.
    const refusals = result.refusals ?? [{ scope: 'org', decision: result.decision }];
    for (const refusal of refusals) {
      spent.set(refusal.scope === 'org' ? spentKey : callerSpentKey, { until: Date.now() + refusal.decision.retryAfterMs, generation, refusal });
    }
    // This caller waits for the longest of them.
    const longest = refusals.reduce((a, b) => (b.decision.retryAfterMs > a.decision.retryAfterMs ? b : a));
    throw rateLimited(input.routeClass, longest.decision, longest.scope);
  }
  if (result.status === 'refused') throw gateRefusal(result.code);
  throw new Error('edge authority answered unknown after a fill');
}

/** Counts a cold admission against the caller's budget (`COLD_ADMISSIONS_PER_MINUTE`); 429 when spent, open when unreachable. */
async function spendColdBudget<E extends AppEnv>(c: Context<E>, subject: AdmitRequest['subject']): Promise<void> {
  const rule = { key: 'cold-admissions', limit: COLD_ADMISSIONS_PER_MINUTE, windowMs: RATE_WINDOW_SECONDS * 1000 };
  const decision = await limitOrUnreachable(c.env, `caller:${credentialOf(subject)}`, [rule], { policy: rule.key, failing: 'open' });
  if (decision && !decision.allowed) throw rateLimited(rule.key, decision);
}

/**
 * Runs the gate alone and answers the grant it checked (undefined if unreadable: the caller is admitted all the
 * same); a refusal is remembered by the authority, then thrown.
 */
async function confirmInPostgres<E extends AppEnv>(c: Context<E>, tenant: ScopedDatabase, grantEpoch: string, request: AdmitRequest, authority: OrgAuthorityStub) {
  let grant: unknown;
  try {
    grant = await tenant.grant();
  } catch (error) {
    const status = apiErrorFromDatabase(error)?.status;
    if (status === 401 || status === 403 || status === 404) {
      c.executionCtx.waitUntil(authority.refuse(grantEpoch, request, status).catch(() => {}));
    }
    throw error;
  }
  // The gate admitted the caller; a grant the authority could not read only costs the edge its copy.
  const parsed = grantSnapshot.safeParse(grant);
  if (!parsed.success) log('error', 'edge grant unreadable: admitted by Postgres, not kept, not rate limited', { subject: request.subject.type, issues: parsed.error.issues });
  return parsed.success ? parsed.data : undefined;
}

function admitted<E extends AppEnv>(c: Context<E>, input: AdmitInput, result: Extract<AdmitResult, { status: 'admitted' }>, tenant: ScopedDatabase, callerKey: string): Admission {
  admittedCallers.set(callerKey, true);
  setRateLimitHeaders(c, input.routeClass, result.decision);
  return { tenant, dataVersion: result.dataVersion, tier: result.limits.tier };
}

function credentialOf(subject: AdmitRequest['subject']): string {
  return subject.type === 'user' ? `session:${subject.sessionId}` : `key:${subject.keyId}`;
}

function subjectOf(actor: Actor): AdmitRequest['subject'] {
  return actor.type === 'user' ? { type: 'user', userId: actor.id, sessionId: actor.sessionId } : { type: 'api_key', keyId: actor.id, keyHash: actor.keyHash };
}
