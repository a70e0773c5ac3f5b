import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../env.ts';
import { inRequestScope } from '../lib/log.ts';

const CLIENT_ID = /^[\w.:=-]{1,128}$/;

/**
 * Gives every request an id the server generated (returned as `X-Request-Id`, carried into logs, error
 * envelopes and the audit log). A client's own `X-Request-Id` is never adopted — it would let a caller
 * write chosen text into the hash-chained audit log — but is kept as `clientRequestId` for the log line
 * when it is a plain token, so a client can still correlate. The rest of the request runs in its scope, so
 * every log line written for it, however deep, carries both ids.
 */
export function requestId(): MiddlewareHandler<AppEnv> {
  return async function requestId(c, next) {
    const id = crypto.randomUUID();
    c.set('requestId', id);
    const header = c.req.header('x-request-id');
    const client = header !== undefined && CLIENT_ID.test(header) ? header : undefined;
    if (client) c.set('clientRequestId', client);
    c.header('X-Request-Id', id);
    await inRequestScope({ requestId: id, ...(client && { clientRequestId: client }) }, next);
  };
}
