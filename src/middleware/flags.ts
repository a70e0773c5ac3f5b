import type { Context, MiddlewareHandler } from 'hono';
import type { Actor } from '../db/tenant.ts';
import type { AppEnv, KindEnv } from '../env.ts';
import { TIERS, type Tier } from '../lib/limits.ts';
import { ApiError } from '../errors.ts';
import { evaluateFlag, flagNotFound, type FlagContext, type FlagEvaluation } from '../lib/flag-evaluation.ts';
import { FLAG_KEY_PATTERN } from '../lib/flags.ts';
import { edgeFlagsFor } from '../services/flags-edge.ts';

/** Flags are evaluated for whoever the route kind authenticated, if anyone (and the org's tier, once admitted). */
type FlagEnv = KindEnv<{ actor?: Actor; tier?: Tier }>;

/**
 * Who the caller is, for flags, from what the request already proved without Postgres: a user token gives
 * the user; an API key its org. On routes inside an org (`/orgs/{orgId}/…`) a user also gets that org, so
 * org targeting reaches them there; the gate still decides membership, so a non-member gets 404 either way.
 * The tier is known once an org route's caller is admitted (the org's edge authority holds it), so route code
 * on org routes targets tiers too; elsewhere, code that knows it passes it to `flagEnabled`.
 */
export function callerFlagContext<E extends FlagEnv>(c: Context<E>): FlagContext {
  const actor = c.var.actor;
  const environment = c.var.config.APP_ENV;
  if (actor?.type === 'api_key') return { environment, orgId: actor.orgId };
  const orgId = c.req.param('orgId')?.toLowerCase();
  const tier = c.var.tier;
  return { environment, ...(actor ? { userId: actor.id } : {}), ...(orgId ? { orgId } : {}), ...(tier ? { tier } : {}) };
}

/** Every flag evaluated for `context`, from the edge copy (memory, then KV; never Postgres). */
export async function evaluateAllFlags<E extends AppEnv>(c: Context<E>, context: FlagContext): Promise<FlagEvaluation[]> {
  const { flags } = await edgeFlagsFor(c.env.FLAGS);
  return [...flags.values()].map((flag) => evaluateFlag(flag, context));
}

/** The one helper route code asks: is flag `key` on for this caller? `context` adds what the route knows (e.g. the tier). */
export async function flagEnabled<E extends FlagEnv>(c: Context<E>, key: string, context: Partial<FlagContext> = {}): Promise<boolean> {
  const { flags } = await edgeFlagsFor(c.env.FLAGS);
  const flag = flags.get(key);
  return (flag ? evaluateFlag(flag, { ...callerFlagContext(c), ...context }) : flagNotFound(key)).enabled;
}

/**
 * A route that exists only while flag `key` is on for the caller: 404 (as for an unknown route) while it is
 * off. The route kinds add it for a route declared with `'x-flag': key`, after authentication, before the
 * handler, so a caller for whom the route does not exist causes no database work.
 */
export function requireFlag(key: string): MiddlewareHandler<FlagEnv> {
  assertFlagKey(key);
  return async function requireFlag(c, next) {
    if (!(await flagEnabled(c, key))) throw notFound();
    await next();
  };
}

/**
 * `requireFlag` for org routes, whose tier is known only once the org's authority has admitted the caller:
 * the first handler runs before `authorize` and answers 404 at once when the flag is off for this caller
 * whatever the org's tier (disabled, another environment, another org…), so such a caller still costs no
 * database work; the second runs after it and decides with the tier. So only a flag that targets tiers waits
 * for the gate (on a warm grant the authority answers it, still without Postgres), and a caller it refuses
 * gets the gate's answer first (a non-member 404 either way).
 */
export function requireOrgFlag(key: string): readonly [MiddlewareHandler<FlagEnv>, MiddlewareHandler<FlagEnv>] {
  assertFlagKey(key);
  return [
    async function requireFlagBeforeGate(c, next) {
      const { flags } = await edgeFlagsFor(c.env.FLAGS);
      const flag = flags.get(key);
      const context = callerFlagContext(c);
      if (!flag || !TIERS.some((tier) => evaluateFlag(flag, { ...context, tier }).enabled)) throw notFound();
      await next();
    },
    async function requireFlagForTier(c, next) {
      if (!(await flagEnabled(c, key))) throw notFound();
      await next();
    },
  ];
}

function assertFlagKey(key: string): void {
  if (!FLAG_KEY_PATTERN.test(key)) throw new TypeError(`x-flag "${key}" is not a flag key (${FLAG_KEY_PATTERN.source})`);
}

const notFound = () => new ApiError('NOT_FOUND', 'Not found.');
