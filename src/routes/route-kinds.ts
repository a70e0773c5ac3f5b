import { createRoute } from '@hono/zod-openapi';
import { etag } from 'hono/etag';
import type { Context, MiddlewareHandler } from 'hono';
import type { ScopedDatabase } from '../db/tenant.ts';
import type { AppEnv, KindEnv } from '../env.ts';
import { authErrorResponses, commonErrorResponses, idempotencyErrorResponses } from '../errors.ts';
import { IDEMPOTENCY_KEY_PATTERN } from '../lib/idempotency.ts';
import { CALLER_RATE_LIMITS, type OrgRouteClass, type RouteClass } from '../lib/limits.ts';
import type { Permission } from '../lib/permissions.ts';
import { assertStrict } from '../lib/request-body.ts';
import { authenticate, type AuthVariables } from '../middleware/auth.ts';
import { authorize, type TenantVariables } from '../middleware/authorize.ts';
import { callerScope } from '../middleware/caller-scope.ts';
import { edgeCache } from '../middleware/edge-cache.ts';
import { requireFlag, requireOrgFlag } from '../middleware/flags.ts';
import { idempotency, uploadIdempotency, type UploadKeyVariables } from '../middleware/idempotency.ts';
import { limitBody, requireJsonBody } from '../middleware/json-body.ts';
import { refuseQuery } from '../middleware/no-query.ts';
import { platformScope, type PlatformScopeVariables } from '../middleware/platform-scope.ts';
import { ipRateLimit } from '../middleware/rate-limit.ts';
import { authenticateSocket } from '../middleware/socket-auth.ts';
import { unscoped } from '../middleware/unscoped.ts';
import { recordUsage } from '../middleware/usage.ts';
import { userScope, type UserScopeVariables } from '../middleware/user-scope.ts';

// Route kinds decide what a handler may touch: each composes the middleware that sets exactly its
// variables, and `@hono/zod-openapi` types the handler from that middleware (`RouteHandler<typeof route>`),
// so a public handler cannot even name `tenant`, and only public handlers hold the unscoped database.
// Each kind is published in the OpenAPI document as `x-route-kind`, which the generated tests read.

type RouteConfig = Parameters<typeof createRoute>[0];

/**
 * What every kind takes: the route's contract, plus its rate-limit class when the default does not fit
 * (reads `read`, other methods `write`; public writes `auth`). The class is published as `x-rate-limit-class`.
 */
type KindConfig<C extends RouteClass = RouteClass> = Omit<RouteConfig, 'middleware' | 'security'> & { rateLimitClass?: C };

/** The route's class, and its config without it (createRoute would publish unknown keys as they are). */
function classify<C extends RouteClass, R extends KindConfig<C>>(config: R, otherwise: NoInfer<C>): [C | 'read', Omit<R, 'rateLimitClass'>] {
  const { rateLimitClass, ...route } = config;
  return [rateLimitClass ?? (config.method === 'get' ? 'read' : otherwise), route];
}

const security: Array<Record<string, string[]>> = [{ bearerAuth: [] }, { apiKey: [] }];

const pass: MiddlewareHandler = async function pass(_, next) {
  await next();
};

/** The shared error responses, overridden by the route's own (e.g. readiness's 503 has its own body). */
const withErrors = <E extends object, O extends object>(errors: E, own: O) => ({ ...errors, ...own }) as Omit<E, keyof O> & O;

/**
 * A route with a query schema refuses unknown parameters through it, so the schema must be strict (checked
 * when the route module loads, as bodies are); a route without one refuses them all.
 */
function queryPolicy(config: Pick<RouteConfig, 'request' | 'path'>): MiddlewareHandler<AppEnv> {
  const query = config.request?.query;
  if (!query) return refuseQuery();
  assertStrict(query, `query of ${config.path}`);
  return pass;
}

/**
 * GETs answer `If-None-Match` with 304 against a strong ETag of the body; single-resource GETs marked
 * `edgeCache` are served from the edge cache (middleware/edge-cache.ts) when warm.
 */
function readPolicy(config: Pick<RouteConfig, 'method'>, cached: boolean): readonly [MiddlewareHandler<AppEnv>, MiddlewareHandler<KindEnv<TenantVariables>>] {
  if (config.method !== 'get') return [pass, pass];
  return [etag(), cached ? edgeCache() : pass];
}

/** The flag a route is declared with (`'x-flag': key`, published as such), if any. */
function flagOf(config: object): string | undefined {
  const key: unknown = 'x-flag' in config ? config['x-flag'] : undefined;
  if (key !== undefined && typeof key !== 'string') throw new TypeError('x-flag takes a flag key');
  return key;
}

/**
 * A route declared with a flag exists only while that flag is on for the caller: 404 otherwise
 * (middleware/flags.ts). Runs once the kind knows the caller.
 */
function flagPolicy(config: object): MiddlewareHandler<AppEnv> {
  const key = flagOf(config);
  return key === undefined ? pass : requireFlag(key);
}

/**
 * The same on org kinds, in two parts around `authorize`: before it, 404 for a flag that is off whatever the
 * org's tier (so a route that is off costs nothing); after it, with the tier the org's authority gave, so a
 * flag that targets tiers reaches the org's members.
 */
function orgFlagPolicy(config: object): readonly [MiddlewareHandler<AppEnv>, MiddlewareHandler<AppEnv>] {
  const key = flagOf(config);
  return key === undefined ? [pass, pass] : requireOrgFlag(key);
}

const { 429: _neverLimited, ...withoutRateLimit } = commonErrorResponses;

/** What a GET of an org route may answer besides its body: its ETag still matches (`readPolicy`). */
const notModified = { 304: { description: 'Not modified: `If-None-Match` names the current `ETag` of the body.' } } as const;

/** The header every write of a gated JSON kind accepts (middleware/idempotency.ts; README, "Idempotency keys"). */
export const idempotencyKeyParameter = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  description:
    'Makes a retry safe: the first answer is stored for 24 hours and replayed (with `Idempotent-Replayed: true`) for the same key, ' +
    'method, path and body (a streamed upload: method, path, `Content-Type` and the SHA-256 of its bytes); other parameters with the same key are a 422, ' +
    'a retry while the first request runs a 409.',
  schema: { type: 'string', minLength: 1, maxLength: 255, pattern: IDEMPOTENCY_KEY_PATTERN },
} as const;

/**
 * Every write (any method but GET) of a gated JSON kind accepts `Idempotency-Key`: the middleware claims it in
 * the handle's first round trip, and the operation publishes the header and the 409 and 422 it can answer.
 */
function writePolicy<E extends AppEnv>(config: Pick<RouteConfig, 'method' | 'parameters'>, handle: (c: Context<E>) => ScopedDatabase) {
  if (config.method === 'get') return { middleware: pass as MiddlewareHandler<E>, contract: {}, responses: {}, own: <O extends object>(responses: O) => responses };
  return {
    middleware: idempotency(handle),
    contract: { parameters: [...(config.parameters ?? []), idempotencyKeyParameter] as RouteConfig['parameters'] },
    responses: idempotencyErrorResponses,
    own: withKeyInUse,
  };
}

/** A route's own 409 (a slug taken, the last owner…) also says that a key in use answers 409, with Retry-After. */
function withKeyInUse<O extends object>(responses: O): O {
  const own: unknown = (responses as Record<string, unknown>)[409];
  if (!own || typeof own !== 'object' || !('description' in own)) return responses;
  const headers = { ...('headers' in own && typeof own.headers === 'object' ? own.headers : {}), ...idempotencyErrorResponses[409].headers };
  const description = `${String(own.description)} Or (\`IDEMPOTENCY_KEY_IN_USE\`) the first request with this \`Idempotency-Key\` has not answered yet.`;
  return { ...responses, 409: { ...own, description, headers } };
}

/** The JSON kinds' body policy: a size limit counted on the stream, JSON only, valid UTF-8 only. */
const jsonBodies = () => [limitBody(), requireJsonBody()] as const;

/**
 * An org-scoped route (`/orgs/{orgId}/…`): authenticated, then authorized for `permission` by the one
 * mechanism (middleware/authorize.ts); the handler gets `actor` and the gated `tenant`. The permission is
 * published in the OpenAPI document as `x-permission`, which the isolation matrix reads to cover every such route.
 * `changesNothing`: a write that changes no org data and no grant (it only enqueues, e.g. product events), so the
 * org's edge authority is not told of it. Every org route's admitted request is recorded as usage (middleware/usage.ts).
 */
export function orgRoute<const R extends KindConfig<OrgRouteClass> & { edgeCache?: true; changesNothing?: true }>(
  permission: Permission,
  { edgeCache: cached, changesNothing, ...config }: R,
) {
  const [routeClass, route] = classify<OrgRouteClass, Omit<R, 'edgeCache' | 'changesNothing'>>(config, 'write');
  const writes = writePolicy<KindEnv<TenantVariables>>(config, (c) => c.var.tenant);
  const flags = orgFlagPolicy(config);
  return createRoute({
    ...route,
    ...writes.contract,
    'x-route-kind': 'org',
    'x-permission': permission,
    'x-rate-limit-class': routeClass,
    'x-edge-cache': cached === true,
    security,
    middleware: [
      recordUsage(routeClass),
      ...jsonBodies(),
      authenticate(),
      flags[0],
      authorize(permission, routeClass, { changesNothing: changesNothing === true }),
      flags[1],
      queryPolicy(config),
      ...readPolicy(config, cached === true),
      writes.middleware,
    ] as const,
    responses: withErrors({ ...commonErrorResponses, ...authErrorResponses, ...writes.responses, ...(config.method === 'get' ? notModified : {}) }, writes.own(config.responses)),
  });
}

/**
 * An org-scoped route whose handler does not answer with a batch: a WebSocket connect (`socket`) or a body
 * streamed to storage (`upload`, which takes any content type; the handler enforces its own limits). The
 * gate runs on its own before the handler, so nothing happens for a caller it refuses; otherwise as `orgRoute`.
 * A socket connect (GET) also takes a single-use ticket (`?ticket=`, middleware/socket-auth.ts): browsers cannot send
 * headers. Socket routes (the connect and its ticket POST) change nothing, so they report no write to the authority.
 */
export function streamRoute<const R extends KindConfig<OrgRouteClass>>(kind: 'socket' | 'upload', permission: Permission, config: R) {
  const [routeClass, route] = classify<OrgRouteClass, R>({ rateLimitClass: kind === 'upload' ? 'upload' : 'read', ...config }, 'write');
  const keyed = uploadKeyPolicy(kind, config);
  const flags = orgFlagPolicy(config);
  return createRoute({
    ...route,
    ...keyed.contract,
    'x-route-kind': kind,
    'x-permission': permission,
    'x-rate-limit-class': routeClass,
    security,
    middleware: [
      recordUsage(routeClass),
      kind === 'socket' && config.method === 'get' ? authenticateSocket() : authenticate(),
      flags[0],
      authorize(permission, routeClass, { gateFirst: true, changesNothing: kind === 'socket' }),
      flags[1],
      queryPolicy(config),
      keyed.middleware,
    ] as const,
    responses: withErrors({ ...commonErrorResponses, ...authErrorResponses, ...keyed.responses }, keyed.own(config.responses)),
  });
}

/**
 * A streamed upload that creates (POST) accepts `Idempotency-Key` as JSON writes do, its claim fingerprinted
 * with the stored bytes' digest (middleware/idempotency.ts, `uploadIdempotency`). A part upload (PUT) is
 * idempotent by its number; a socket ticket changes nothing (README, "Idempotency keys").
 */
function uploadKeyPolicy(kind: 'socket' | 'upload', config: Pick<RouteConfig, 'method' | 'parameters'>) {
  if (kind !== 'upload' || config.method !== 'post') {
    return { middleware: pass as MiddlewareHandler<KindEnv<UploadKeyVariables>>, contract: {}, responses: {}, own: <O extends object>(responses: O) => responses };
  }
  return {
    middleware: uploadIdempotency(),
    contract: { parameters: [...(config.parameters ?? []), idempotencyKeyParameter] as RouteConfig['parameters'] },
    responses: idempotencyErrorResponses,
    own: withKeyInUse,
  };
}

/**
 * How a user route may be signed in to besides the access token (log out also takes the refresh cookie,
 * routes/auth/cookie-sign-in.ts, middleware/refresh-sign-in.ts): the middleware that sets `actor` in place of `authenticate`, and the
 * security requirement that adds to the contract.
 */
export interface UserSignIn {
  authenticate: MiddlewareHandler<KindEnv<AuthVariables>>;
  security: Record<string, string[]>;
}

/**
 * A route for a signed-in user acting for themself (not in an org): the handler gets the user `actor`
 * and `account`, gated on the live session. API keys are refused.
 */
export function userRoute<const R extends KindConfig>(config: R, signIn?: UserSignIn) {
  const [routeClass, route] = classify(config, 'write');
  const writes = writePolicy<KindEnv<UserScopeVariables>>(config, (c) => c.var.account);
  return createRoute({
    ...route,
    ...writes.contract,
    'x-route-kind': 'user',
    'x-rate-limit-class': routeClass,
    security: [{ bearerAuth: [] }, ...(signIn ? [signIn.security] : [])] as Array<Record<string, string[]>>,
    middleware: [
      ...jsonBodies(),
      signIn?.authenticate ?? authenticate({ allow: ['user'] }),
      userScope(routeClass),
      flagPolicy(config),
      queryPolicy(config),
      writes.middleware,
    ] as const,
    responses: withErrors({ ...commonErrorResponses, ...authErrorResponses, ...writes.responses }, writes.own(config.responses)),
  });
}

/**
 * A route for the platform's own operators, across tenants (a user listed in `platform_admins`): the
 * handler gets the user `actor` and `platform`, gated by `app_enter_platform_admin`. Everyone else gets 404.
 */
export function platformRoute<const R extends KindConfig>(config: R) {
  const [routeClass, route] = classify({ rateLimitClass: 'admin', ...config }, 'admin');
  const writes = writePolicy<KindEnv<PlatformScopeVariables>>(config, (c) => c.var.platform);
  return createRoute({
    ...route,
    ...writes.contract,
    'x-route-kind': 'platform-admin',
    'x-rate-limit-class': routeClass,
    security: [{ bearerAuth: [] }] as Array<Record<string, string[]>>,
    middleware: [...jsonBodies(), authenticate({ allow: ['user'] }), platformScope(routeClass), flagPolicy(config), queryPolicy(config), writes.middleware] as const,
    responses: withErrors({ ...commonErrorResponses, ...authErrorResponses, ...writes.responses }, writes.own(config.responses)),
  });
}

/**
 * A read for any authenticated caller (a user or an API key) of data that is no tenant's (e.g. GET /flags,
 * answered from KV) or of the caller's own grant (GET /whoami): the handler gets `actor` and `caller`, a
 * gated handle for its own records only; the caller's grant is checked live (`callerScope`) before the
 * response leaves.
 */
export function callerRoute<const R extends KindConfig<OrgRouteClass>>(config: R) {
  const [routeClass, route] = classify<OrgRouteClass, R>(config, 'write');
  return createRoute({
    ...route,
    'x-route-kind': 'caller',
    'x-rate-limit-class': routeClass,
    security,
    middleware: [...jsonBodies(), authenticate(), callerScope(routeClass), flagPolicy(config), queryPolicy(config)] as const,
    responses: withErrors({ ...commonErrorResponses, ...authErrorResponses }, config.responses),
  });
}

/** A route anyone may call (sign up, log in, refresh, JWKS): the handler gets only `unscopedDb`. */
export function publicRoute<const R extends Omit<RouteConfig, 'middleware'> & { rateLimitClass?: RouteClass }>(config: R) {
  const [routeClass, route] = classify(config, 'auth');
  // A public `upload` route (a signed upload URL) takes any body; its handler enforces its own limits.
  const bodies = routeClass === 'upload' ? ([pass, pass] as const) : jsonBodies();
  return createRoute({
    ...route,
    'x-route-kind': 'public',
    'x-rate-limit-class': routeClass,
    middleware: [ipRateLimit(routeClass), ...bodies, unscoped(), queryPolicy(config)] as const,
    // Anonymous reads are not limited per IP (src/lib/limits.ts), so they never answer 429.
    responses: withErrors(CALLER_RATE_LIMITS.ip[routeClass] === undefined ? withoutRateLimit : commonErrorResponses, config.responses),
  });
}
