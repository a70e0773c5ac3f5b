import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../env.ts';

const CLIENT_ID = /^[\w.:=-]{1,128}$/;

/**
 * Gives every request an id the server generated (returned as `X-Request-Id`, carried into logs, error
 * envelopes and the audit log). A client's own `X-Request-Id` is never adopted — it would let a caller
 * write chosen text into the hash-chained audit log — but is kept as `clientRequestId` for the log line
 * when it is a plain token, so a client can still correlate.
 */
export function requestId(): MiddlewareHandler<AppEnv> {
  return async function requestId(c, next) {
    const id = crypto.randomUUID();
    c.set('requestId', id);
    const client = c.req.header('x-request-id');
    if (client !== undefined && CLIENT_ID.test(client)) c.set('clientRequestId', client);
    c.header('X-Request-Id', id);
    await next();
  };
}
