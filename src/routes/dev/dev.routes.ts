import { createRoute, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../../env.ts';
import { ApiError } from '../../errors.ts';
import { jsonContent } from '../../lib/envelope.ts';
import { normaliseEmail } from '../../lib/passwords.ts';
import { usesDevOutbox } from '../../services/email.ts';

/** Outside development and test these routes do not exist: 404 before any validation runs. */
function devOnly(): MiddlewareHandler<AppEnv> {
  return async function devOnly(c, next) {
    if (!usesDevOutbox(c.var.config)) throw new ApiError('NOT_FOUND', `No route for ${c.req.method} ${c.req.path}.`);
    await next();
  };
}

const outboxEmailSchema = z.object({ to: z.string(), subject: z.string(), text: z.string(), html: z.string(), data: z.unknown() });

/** Hidden from the OpenAPI document: a development tool, not part of the API. */
export const outbox = createRoute({
  method: 'get',
  path: '/outbox',
  hide: true,
  middleware: [devOnly()] as const,
  request: { query: z.strictObject({ to: z.string().max(254).transform(normaliseEmail).pipe(z.email()) }) },
  responses: { 200: jsonContent(z.object({ data: z.array(outboxEmailSchema) }), 'Emails "sent" to `to`, newest first.') },
});
