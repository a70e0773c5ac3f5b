import { DurableObject } from 'cloudflare:workers';
import { effectiveLimits, RATE_WINDOW_SECONDS } from '../../src/lib/limits.ts';
import { roleAdmits, type OrgRole, type ProjectRole } from '../../src/lib/permissions.ts';
import { SweptSlidingLog } from '../../src/lib/sliding-log.ts';
import type { AdmitRequest, AdmitResult, GrantSnapshot, OrgLimits, Subject } from './org-authority.schemas.ts';

/** A grant older than this is re-checked in Postgres: the bound on a change made outside the app (raw SQL). */
const GRANT_MAX_AGE_MS = 10 * 60_000;
/** Refusals remembered, so a stranger's repeated requests cost neither Postgres nor the org's rate limit. */
const MAX_REFUSALS = 10_000;

interface Held<T> {
  value: T;
  at: number;
}
interface UserGrant {
  role: OrgRole;
  projectRoles: Record<string, ProjectRole>;
}
type Refusal = 401 | 403 | 404;

/**
 * The edge authority of one org: decides "is this caller admitted, and within the org's limits" in one call,
 * without Postgres on a warm path. Postgres stays the source of truth: the authority holds copies of grants
 * that the gate has just confirmed (`fill`), and every write that changes a grant drops them all before the
 * write's response leaves (`changed('grants')`), so a revocation acts at once. A fill that raced with such a
 * write is refused by its epoch. Grants live in memory only (an evicted object starts cold); the rate-limit
 * log lives in the object's storage, so counts survive eviction.
 */
export class OrgAuthority extends DurableObject<Env> {
  #grantEpoch = crypto.randomUUID();
  #dataVersion = crypto.randomUUID();
  #limits: OrgLimits | undefined;
  #users = new Map<string, Held<UserGrant>>();
  /** Sessions and key secrets known live, with when they stop being valid (null: no end). */
  #credentials = new Map<string, Held<number | null>>();
  #projects = new Set<string>();
  #refusals = new Map<string, Refusal>();
  /** The org's and its callers' limits; an authority that never counts (an unknown org's) writes nothing to storage. */
  #slidingLog = new SweptSlidingLog(this.ctx.storage);

  /** Decides a request from what the authority holds (see `AdmitResult`). */
  admit(request: AdmitRequest): AdmitResult {
    const refusal = this.#refusals.get(refusalKey(request));
    if (refusal) return { status: 'refused', code: refusal };
    const decision = this.#decide(request, Date.now());
    return decision ?? { status: 'unknown', grantEpoch: this.#grantEpoch, dataVersion: this.#dataVersion };
  }

  /**
   * Takes the grant Postgres has just confirmed for `request`'s caller (kept only if no grant change happened
   * since `grantEpoch`), and decides the request on it.
   */
  fill(grantEpoch: string, request: AdmitRequest, grant: GrantSnapshot): AdmitResult {
    const now = Date.now();
    const limits = { tier: grant.tier, overrides: grant.overrides };
    if (grantEpoch === this.#grantEpoch) {
      this.#limits = limits;
      if (grant.project) this.#projects.add(grant.project);
      this.#credentials.set(credentialKey(request.subject), { value: grant.validUntil, at: now });
      if (grant.type === 'user' && request.subject.type === 'user') {
        this.#users.set(request.subject.userId, { value: { role: grant.role, projectRoles: grant.projectRoles }, at: now });
      }
      const decided = this.#decide(request, now);
      if (decided) return decided;
    }
    // A grant changed meanwhile (nothing is kept), or what is held cannot decide: decide this one request on the
    // snapshot, which Postgres confirmed just now.
    return this.#count(request, limits, now, grant.type === 'user' ? grant.role : 'api_key');
  }

  /** Remembers that the gate refused `request`'s caller (unless a grant changed since `grantEpoch`). */
  refuse(grantEpoch: string, request: AdmitRequest, code: Refusal): void {
    if (grantEpoch !== this.#grantEpoch) return;
    if (this.#refusals.size >= MAX_REFUSALS) this.#refusals.clear();
    this.#refusals.set(refusalKey(request), code);
  }

  /**
   * A write has committed. `grants`: it may change who is admitted (membership, roles, keys, sessions, the org
   * or a project ceasing to exist, the org's limits): every grant, refusal and cached body is dropped. `data`:
   * only cached bodies are (the data version moves).
   */
  changed(kind: 'grants' | 'data'): { dataVersion: string } {
    this.#dataVersion = crypto.randomUUID();
    if (kind === 'grants') {
      this.#grantEpoch = crypto.randomUUID();
      this.#limits = undefined;
      this.#users.clear();
      this.#credentials.clear();
      this.#projects.clear();
      this.#refusals.clear();
    }
    return { dataVersion: this.#dataVersion };
  }

  #decide(request: AdmitRequest, now: number): AdmitResult | undefined {
    const limits = this.#limits;
    const credential = this.#credentials.get(credentialKey(request.subject));
    if (!limits || !credential || now - credential.at > GRANT_MAX_AGE_MS) return undefined;
    if (credential.value !== null && credential.value <= now) return { status: 'refused', code: 401 };
    if (request.projectId !== undefined && !this.#projects.has(request.projectId)) return undefined;
    if (request.subject.type === 'user') {
      const user = this.#users.get(request.subject.userId);
      if (!user || now - user.at > GRANT_MAX_AGE_MS) return undefined;
      const projectRole = request.projectId === undefined ? undefined : user.value.projectRoles[request.projectId];
      if (!roleAdmits(user.value.role, projectRole, request.permission)) return { status: 'refused', code: 403 };
      return this.#count(request, limits, now, user.value.role);
    }
    // API keys: the app has checked the key's org, project and scopes; liveness is the credential above.
    return this.#count(request, limits, now, 'api_key');
  }

  /**
   * Counts the request against the org's limit for its class and the caller's own (`callerRateLimits`: per user,
   * whatever the session, or per API key), all or nothing: a request one refuses spends nothing of the other. The
   * caller's is counted only where it can refuse: one at least the org's never would (every request it counts, the
   * org's counts too), so the common case writes one entry, not two.
   */
  #count(request: AdmitRequest, limits: OrgLimits, now: number, role: string): AdmitResult {
    const windowMs = RATE_WINDOW_SECONDS * 1000;
    const figures = effectiveLimits(limits.tier, limits.overrides);
    const org = `org:${request.routeClass}`;
    const rules = [{ key: org, limit: figures.rateLimits[request.routeClass], windowMs }];
    const callerLimit = figures.callerRateLimits[request.routeClass];
    if (callerLimit < figures.rateLimits[request.routeClass]) {
      rules.push({ key: `caller:${callerOf(request.subject)}:${request.routeClass}`, limit: callerLimit, windowMs });
    }
    const decision = this.#slidingLog.consume(rules, now);
    if (!decision.allowed) {
      // Each limit's own figure and wait: the org's holds every caller back, the caller's only this one.
      const refusals = (decision.refusedBy ?? []).map(({ key, limit, retryAfterMs }) => ({
        scope: key === org ? ('org' as const) : ('caller' as const),
        decision: { allowed: false, limit, remaining: 0, resetMs: retryAfterMs, retryAfterMs },
      }));
      return { status: 'limited', limits, decision, refusals };
    }
    return { status: 'admitted', role, limits, dataVersion: this.#dataVersion, decision };
  }

  /** Deletes the log entries that have left their window (callers gone quiet leave nothing behind). */
  override async alarm(): Promise<void> {
    this.#slidingLog.sweep(Date.now());
  }
}

/** Who a caller's own limit counts: a user across their sessions, an API key across its secrets. */
function callerOf(subject: Subject): string {
  return subject.type === 'user' ? `user:${subject.userId}` : `key:${subject.keyId}`;
}

function credentialKey(subject: Subject): string {
  return subject.type === 'user' ? `session:${subject.sessionId}:${subject.userId}` : `key:${subject.keyId}:${subject.keyHash}`;
}

function refusalKey(request: AdmitRequest): string {
  return `${credentialKey(request.subject)}|${request.permission}|${request.projectId ?? ''}`;
}
