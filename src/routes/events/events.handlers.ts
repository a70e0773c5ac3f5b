import type { RouteHandler } from '@hono/zod-openapi';
import { ApiError } from '../../errors.ts';
import { USAGE_LIMITS } from '../../lib/limits.ts';
import { describeError, log } from '../../lib/log.ts';
import { packUsageMessages, type UsageEvent } from '../../services/usage.ts';
import type { postEvents } from './events.routes.ts';

/**
 * Queues the events in one `sendBatch` (all or none), with no Postgres round trip for a caller the org's edge
 * authority admitted; a cold caller, or an `Idempotency-Key` to claim, costs the gate's one round trip first.
 */
export const postEventsHandler: RouteHandler<typeof postEvents> = async (c) => {
  const { orgId } = c.req.valid('param');
  const { events } = c.req.valid('json');
  const { tenant, actor } = c.var;
  const at = new Date().toISOString();
  const who = actor.type === 'user' ? { userId: actor.id } : { apiKeyId: actor.id };
  const rows: UsageEvent[] = events.map((event) => ({ id: crypto.randomUUID(), orgId, at, source: 'product', name: event.name, properties: event.properties, ...who }));
  const [batch, ...more] = packUsageMessages(rows);
  if (!batch || more.length) throw new ApiError('PAYLOAD_TOO_LARGE', `The events take more than ${USAGE_LIMITS.batchBytes} bytes as stored; send fewer per request.`);
  if (!tenant.gated || tenant.attached.state === 'unsent') await tenant.enter();
  try {
    await c.env.JOBS.sendBatch(batch.map((body) => ({ body, contentType: 'json' as const })));
  } catch (error) {
    log('warn', 'product events not queued', { orgId, error: describeError(error) });
    throw new ApiError('SERVICE_UNAVAILABLE', 'The events may or may not have been queued (a retry may record them twice). Retry shortly.', { outcome: 'unknown' }, { 'Retry-After': '1' });
  }
  return c.json({ data: { accepted: rows.length } }, 202);
};
