import type { RouteHandler } from '@hono/zod-openapi';
import { markOrgHasWebhooks } from '../../cache/webhook-orgs.ts';
import type { Config } from '../../config.ts';
import { ApiError } from '../../errors.ts';
import { decodeCursor, takePage } from '../../lib/pagination.ts';
import { webhookUrlProblem } from '../../lib/ssrf.ts';
import { generateWebhookSecret, sealWebhookSecret } from '../../lib/webhook-signing.ts';
import { enqueueDeliveries, replayEvents } from '../../services/webhook-fanout.ts';
import {
  deleteEndpoint,
  endpointLimitCheck,
  insertEndpoint,
  insertEndpointState,
  insertTestMessage,
  requeueMessage,
  resetEndpointFailures,
  rotateEndpointSecret,
  selectEndpoint,
  selectEndpointPage,
  selectMessage,
  selectMessagePage,
  updateEndpoint,
} from '../../services/webhooks.ts';
import type * as routes from './webhooks.routes.ts';
import { deliveryCursor, endpointCursor, toDelivery, toEndpoint } from './webhooks.schemas.ts';
import { DEFAULT_GRACE_SECONDS } from '../../lib/fields.ts';

/** Most events one replay call queues. */
const REPLAY_LIMIT = 1000;

/** Outside development and test, loopback receivers (which the body schema lets through for them) are refused too. */
function refuseLocalUrl(config: Pick<Config, 'APP_ENV'>, url: string | undefined): void {
  if (url === undefined || config.APP_ENV === 'development' || config.APP_ENV === 'test') return;
  const problem = webhookUrlProblem(url, false);
  if (problem) throw new ApiError('VALIDATION_FAILED', 'Request validation failed.', { issues: [{ path: 'url', code: 'custom', message: problem }] });
}

const notFound = () => new ApiError('NOT_FOUND', 'Webhook endpoint not found.');

/** One round trip: the gate, the org's endpoint limit (403 QUOTA_EXCEEDED), the endpoint, and its cursor at the audit head. */
export const createEndpointHandler: RouteHandler<typeof routes.createEndpoint> = async (c) => {
  const { orgId } = c.req.valid('param');
  const input = c.req.valid('json');
  refuseLocalUrl(c.var.config, input.url);
  const id = crypto.randomUUID();
  const secret = generateWebhookSecret();
  const sealed = await sealWebhookSecret(c.var.config.TOKEN_SECRET, id, secret);
  const [, [row]] = await c.var.tenant.batch((db) => [db.execute(endpointLimitCheck(orgId)), insertEndpoint(db, c.var.tenant.actor, orgId, id, input, sealed), insertEndpointState(db, orgId, id)]);
  if (!row) throw new Error('insert returned no row');
  await markOrgHasWebhooks(c.env.CACHE, orgId);
  return c.json({ data: { ...toEndpoint(row), secret } }, 201);
};

export const listEndpointsHandler: RouteHandler<typeof routes.listEndpoints> = async (c) => {
  const { orgId } = c.req.valid('param');
  const { limit, cursor } = c.req.valid('query');
  const after = cursor ? decodeCursor(cursor, endpointCursor) : undefined;
  const [rows] = await c.var.tenant.batch((db) => [selectEndpointPage(db, orgId, { limit, after })]);
  const page = takePage(rows, limit, (row) => [row.keyText, row.endpoint.id]);
  return c.json({ data: page.items.map((row) => toEndpoint(row.endpoint)), meta: { nextCursor: page.nextCursor, limit } }, 200);
};

export const getEndpointHandler: RouteHandler<typeof routes.getEndpoint> = async (c) => {
  const [[row]] = await c.var.tenant.batch((db) => [selectEndpoint(db, c.req.valid('param').endpointId)]);
  if (!row) throw notFound();
  return c.json({ data: toEndpoint(row) }, 200);
};

export const updateEndpointHandler: RouteHandler<typeof routes.updateEndpoint> = async (c) => {
  const { endpointId } = c.req.valid('param');
  const input = c.req.valid('json');
  refuseLocalUrl(c.var.config, input.url);
  const [[row]] = await c.var.tenant.batch((db) => [updateEndpoint(db, endpointId, input), ...(input.enabled ? [resetEndpointFailures(db, endpointId)] : [])]);
  if (!row) throw notFound();
  return c.json({ data: toEndpoint(row) }, 200);
};

export const deleteEndpointHandler: RouteHandler<typeof routes.deleteEndpoint> = async (c) => {
  const [deleted] = await c.var.tenant.batch((db) => [deleteEndpoint(db, c.req.valid('param').endpointId)]);
  if (deleted.length === 0) throw notFound();
  return c.body(null, 204);
};

export const rotateSecretHandler: RouteHandler<typeof routes.rotateSecret> = async (c) => {
  const { endpointId } = c.req.valid('param');
  // Without a JSON body the validator yields {}, defaults unapplied: apply the default here.
  const graceSeconds = c.req.valid('json').gracePeriodSeconds ?? DEFAULT_GRACE_SECONDS;
  const secret = generateWebhookSecret();
  const sealed = await sealWebhookSecret(c.var.config.TOKEN_SECRET, endpointId, secret);
  const [[state], [row]] = await c.var.tenant.batch((db) => [selectEndpoint(db, endpointId), rotateEndpointSecret(db, endpointId, sealed, graceSeconds)]);
  if (!state) throw notFound();
  if (!row) {
    // As for API keys: a second rotation would cut the earlier secret's grace short, so it waits for it.
    const until = state.previousExpiresAt?.toISOString();
    throw new ApiError('CONFLICT', `The previous secret signs until ${until}; rotate again after that.`, { previousSecretExpiresAt: until });
  }
  return c.json({ data: { ...toEndpoint(row), secret } }, 200);
};

/** Why nothing was queued for an endpoint: it does not exist (404) or is disabled (409). */
function refusal(endpoint: { enabled: boolean } | undefined): ApiError {
  return endpoint ? new ApiError('CONFLICT', 'The endpoint is disabled; enable it first.') : notFound();
}

export const sendTestEventHandler: RouteHandler<typeof routes.sendTestEvent> = async (c) => {
  const { orgId, endpointId } = c.req.valid('param');
  const id = `msg_${crypto.randomUUID().replaceAll('-', '')}`;
  const [[endpoint], inserted, [message]] = await c.var.tenant.batch((db) => [selectEndpoint(db, endpointId), insertTestMessage(db, endpointId, id, new Date()), selectMessage(db, id)]);
  if (inserted.rows.length === 0 || !message) throw refusal(endpoint);
  await enqueueDeliveries(c.env.JOBS, orgId, [{ id, attempts: 0 }]);
  return c.json({ data: toDelivery(message) }, 202);
};

export const listDeliveriesHandler: RouteHandler<typeof routes.listDeliveries> = async (c) => {
  const { endpointId } = c.req.valid('param');
  const { limit, cursor, status } = c.req.valid('query');
  const after = cursor ? decodeCursor(cursor, deliveryCursor) : undefined;
  const [[endpoint], rows] = await c.var.tenant.batch((db) => [selectEndpoint(db, endpointId), selectMessagePage(db, endpointId, status, { limit, after })]);
  if (!endpoint) throw notFound();
  const page = takePage(rows, limit, (row) => [row.keyText, row.message.id]);
  return c.json({ data: page.items.map((row) => toDelivery(row.message)), meta: { nextCursor: page.nextCursor, limit } }, 200);
};

export const redeliverHandler: RouteHandler<typeof routes.redeliver> = async (c) => {
  const { orgId, endpointId, messageId } = c.req.valid('param');
  const [[endpoint], requeued] = await c.var.tenant.batch((db) => [selectEndpoint(db, endpointId), requeueMessage(db, endpointId, messageId, new Date())]);
  if (requeued.length === 0) throw endpoint?.enabled ? new ApiError('NOT_FOUND', 'Delivery not found.') : refusal(endpoint);
  await enqueueDeliveries(c.env.JOBS, orgId, requeued);
  return c.json({ data: { queued: requeued.length, more: false } }, 202);
};

export const replayHandler: RouteHandler<typeof routes.replay> = async (c) => {
  const { orgId, endpointId } = c.req.valid('param');
  const since = new Date(c.req.valid('json').since);
  const [[endpoint], replayed] = await c.var.tenant.batch((db) => [selectEndpoint(db, endpointId), replayEvents(db, orgId, endpointId, since, new Date(), REPLAY_LIMIT)]);
  if (!endpoint?.enabled) throw refusal(endpoint);
  const { ids, more } = replayed.rows[0] ?? { ids: [], more: false };
  await enqueueDeliveries(c.env.JOBS, orgId, ids.map((id) => ({ id, attempts: 0 })));
  return c.json({ data: { queued: ids.length, more } }, 202);
};
