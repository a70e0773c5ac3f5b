import { createRoute, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../../env.ts';
import { ApiError } from '../../errors.ts';
import { jsonContent } from '../../lib/envelope.ts';
import { normaliseEmail } from '../../lib/passwords.ts';
import { unscoped } from '../../middleware/unscoped.ts';

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1', 'localhost', '[::1]']);

/**
 * These routes exist only when `DEV_OUTBOX=on` (set by `npm run dev` and the tests, never by
 * wrangler.toml) and only for loopback callers: anything else gets the 404 of an unknown route.
 */
export function devOnly(): MiddlewareHandler<AppEnv> {
  return async function devOnly(c, next) {
    const client = c.req.header('cf-connecting-ip');
    const local = LOOPBACK.has(new URL(c.req.url).hostname) && (client === undefined || LOOPBACK.has(client));
    if (c.var.config.DEV_OUTBOX !== 'on' || !local) throw new ApiError('NOT_FOUND', `No route for ${c.req.method} ${c.req.path}.`);
    await next();
  };
}

const outboxEmailSchema = z.object({ to: z.string(), subject: z.string(), text: z.string(), html: z.string(), data: z.unknown() });

/** Hidden from the OpenAPI document: a development tool, not part of the API. */
export const outbox = createRoute({
  method: 'get',
  path: '/outbox',
  hide: true,
  middleware: [devOnly(), unscoped()] as const,
  request: { query: z.strictObject({ to: z.string().max(254).transform(normaliseEmail).pipe(z.email()).optional() }) },
  responses: { 200: jsonContent(z.object({ data: z.array(outboxEmailSchema) }), 'Emails "sent" (to `to` when given, else to anyone), newest first.') },
});
