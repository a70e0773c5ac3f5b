import type { MiddlewareHandler } from 'hono';
import { ApiError } from '../errors.ts';

/**
 * For a route that declares no query schema: any query parameter is a 400 naming it, as an unknown
 * parameter is on routes that declare one (their schemas are strict). A parameter the server ignores
 * would let a client believe it had effect (`GET /me/sessions?limit=5`).
 */
export function refuseQuery(): MiddlewareHandler {
  return async function refuseQuery(c, next) {
    const url = c.req.url;
    // Most requests carry no query at all: no URL to parse for them.
    const names = url.includes('?') ? [...new Set(new URL(url).searchParams.keys())] : [];
    if (names.length > 0) {
      throw new ApiError('VALIDATION_FAILED', 'Request validation failed.', {
        issues: names.map((name) => ({ path: name, code: 'unrecognized_keys', message: `unknown query parameter "${name}"` })),
      });
    }
    await next();
  };
}
