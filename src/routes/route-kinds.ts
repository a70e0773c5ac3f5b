import { createRoute } from '@hono/zod-openapi';
import { authErrorResponses, commonErrorResponses } from '../errors.ts';
import type { Permission } from '../lib/permissions.ts';
import { authenticate } from '../middleware/auth.ts';
import { authorize } from '../middleware/authorize.ts';
import { refuseQuery } from '../middleware/no-query.ts';

type RouteConfig = Parameters<typeof createRoute>[0];

const security: Array<Record<string, string[]>> = [{ bearerAuth: [] }, { apiKey: [] }];

// A route with a query schema refuses unknown parameters through it (strict); one without refuses them all.
const queryPolicy = (config: Pick<RouteConfig, 'request'>) => (config.request?.query ? [] : [refuseQuery()]);

/**
 * An org-scoped route (`/orgs/{orgId}/…`): authenticated, then authorized for `permission`
 * by the one mechanism (see middleware/authorize.ts). The permission is also published in the
 * OpenAPI document as `x-permission`, which the isolation-matrix test reads to cover every such route.
 */
export function orgRoute<const R extends Omit<RouteConfig, 'middleware' | 'security'>>(permission: Permission, config: R) {
  return createRoute({
    ...config,
    'x-permission': permission,
    security,
    middleware: [authenticate(), authorize(permission), ...queryPolicy(config)] as const,
    responses: { ...commonErrorResponses, ...authErrorResponses, ...config.responses },
  });
}

/** A route for a signed-in user acting for themself (not in an org). API keys are refused. */
export function userRoute<const R extends Omit<RouteConfig, 'middleware' | 'security'>>(config: R) {
  return createRoute({
    ...config,
    security: [{ bearerAuth: [] }] as Array<Record<string, string[]>>,
    middleware: [authenticate({ allow: ['user'] }), ...queryPolicy(config)] as const,
    responses: { ...commonErrorResponses, ...authErrorResponses, ...config.responses },
  });
}

/** A route anyone may call (sign up, log in, refresh, JWKS). */
export function publicRoute<const R extends RouteConfig>(config: R) {
  const own = config.middleware === undefined ? [] : Array.isArray(config.middleware) ? config.middleware : [config.middleware];
  return createRoute({ ...config, middleware: [...own, ...queryPolicy(config)], responses: { ...commonErrorResponses, ...config.responses } });
}
