import { bodyErrorResponses, errorResponse, quotaErrorResponses } from '../../errors.ts';
import { dataEnvelope, jsonContent } from '../../lib/envelope.ts';
import { orgParams } from '../../lib/fields.ts';
import { listEnvelope, paginationQuery } from '../../lib/pagination.ts';
import { jsonBody, optionalJsonBody } from '../../lib/request-body.ts';
import { orgRoute } from '../route-kinds.ts';
import {
  createEndpointBody,
  deliveryQuery,
  endpointParams,
  messageParams,
  queuedSchema,
  replayBody,
  rotateSecretBody,
  updateEndpointBody,
  webhookDeliverySchema,
  webhookEndpointSchema,
  webhookEndpointWithSecretSchema,
} from './webhooks.schemas.ts';

const tags = ['Webhooks'];
const endpointPath = '/orgs/{orgId}/webhooks/{endpointId}';
const queued = (description: string) => jsonContent(dataEnvelope(queuedSchema), description);

export const createEndpoint = orgRoute('webhooks:write', {
  method: 'post',
  path: '/orgs/{orgId}/webhooks',
  tags,
  summary: 'Create a webhook endpoint',
  description: 'Events from the org are POSTed to it, signed per Standard Webhooks. The signing secret is in `data.secret`, in this response only.',
  request: { params: orgParams, body: jsonBody(createEndpointBody, 'The endpoint to create.') },
  responses: { 201: jsonContent(dataEnvelope(webhookEndpointWithSecretSchema), 'The new endpoint, with its secret.'), ...bodyErrorResponses, ...quotaErrorResponses },
});

export const listEndpoints = orgRoute('webhooks:read', {
  method: 'get',
  path: '/orgs/{orgId}/webhooks',
  tags,
  summary: 'List webhook endpoints',
  description: 'Newest first. Cursor-paginated. Never includes secrets.',
  request: { params: orgParams, query: paginationQuery },
  responses: { 200: jsonContent(listEnvelope(webhookEndpointSchema), 'A page of endpoints.') },
});

export const getEndpoint = orgRoute('webhooks:read', {
  method: 'get',
  path: endpointPath,
  tags,
  summary: 'Get a webhook endpoint',
  request: { params: endpointParams },
  responses: { 200: jsonContent(dataEnvelope(webhookEndpointSchema), 'The endpoint.') },
});

export const updateEndpoint = orgRoute('webhooks:write', {
  method: 'patch',
  path: endpointPath,
  tags,
  summary: 'Update a webhook endpoint',
  description: 'Changes the fields sent. Disabled endpoints receive nothing; enabling does not send what was missed (replay does).',
  request: { params: endpointParams, body: jsonBody(updateEndpointBody, 'The fields to change.') },
  responses: { 200: jsonContent(dataEnvelope(webhookEndpointSchema), 'The endpoint after the change.'), ...bodyErrorResponses },
});

export const deleteEndpoint = orgRoute('webhooks:write', {
  method: 'delete',
  path: endpointPath,
  tags,
  summary: 'Delete a webhook endpoint',
  description: 'With its delivery log; deliveries in flight are dropped.',
  request: { params: endpointParams },
  responses: { 204: { description: 'Deleted.' } },
});

export const rotateSecret = orgRoute('webhooks:write', {
  method: 'post',
  path: `${endpointPath}/rotate-secret`,
  tags,
  summary: 'Rotate the signing secret',
  description:
    'Issues a new secret (in `data.secret`, shown once). For `gracePeriodSeconds` deliveries carry two signatures, by the new and the previous ' +
    'secret, so receivers can switch at leisure. While a previous secret is in its grace the endpoint cannot be rotated again (409, ' +
    '`details.previousSecretExpiresAt`): a rotation never cuts a grace short.',
  request: { params: endpointParams, body: optionalJsonBody(rotateSecretBody, 'Optional: the grace period of the previous secret.') },
  responses: {
    200: jsonContent(dataEnvelope(webhookEndpointWithSecretSchema), 'The endpoint, with its new secret.'),
    409: errorResponse('The previous secret is still in its grace period (`details.previousSecretExpiresAt`).'),
    ...bodyErrorResponses,
  },
});

export const sendTestEvent = orgRoute('webhooks:write', {
  method: 'post',
  path: `${endpointPath}/test`,
  tags,
  summary: 'Send a test event',
  description: 'Queues one `webhook.test` event to the endpoint (whatever types it subscribes to); watch its delivery in the log.',
  request: { params: endpointParams },
  responses: { 202: jsonContent(dataEnvelope(webhookDeliverySchema), 'The queued delivery.'), 409: errorResponse('The endpoint is disabled.') },
});

export const listDeliveries = orgRoute('webhooks:read', {
  method: 'get',
  path: `${endpointPath}/deliveries`,
  tags,
  summary: "List an endpoint's deliveries",
  description: 'The delivery log, newest first: status, attempts, next retry, and the last attempt (status code, latency, error, response start). Cursor-paginated.',
  request: { params: endpointParams, query: deliveryQuery },
  responses: { 200: jsonContent(listEnvelope(webhookDeliverySchema), 'A page of deliveries.') },
});

export const redeliver = orgRoute('webhooks:write', {
  method: 'post',
  path: `${endpointPath}/deliveries/{messageId}/redeliver`,
  tags,
  summary: 'Redeliver one message',
  description: 'Sends the message again now, with the retry schedule afresh and the same `webhook-id`.',
  request: { params: messageParams },
  responses: { 202: queued('Queued.'), 409: errorResponse('The endpoint is disabled.') },
});

export const replay = orgRoute('webhooks:write', {
  method: 'post',
  path: `${endpointPath}/replay`,
  tags,
  summary: 'Replay events since a time',
  description:
    'Queues every event since `since` that the endpoint subscribes to and has not received successfully — missed while it was disabled, ' +
    'failed, or dead — at most 1000 per call (oldest first). Each keeps its `webhook-id`.',
  request: { params: endpointParams, body: jsonBody(replayBody, 'Where to start.') },
  responses: { 202: queued('Queued.'), 409: errorResponse('The endpoint is disabled.'), ...bodyErrorResponses },
});
