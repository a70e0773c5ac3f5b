import { bodyErrorResponses, errorResponse, quotaErrorResponses } from '../../errors.ts';
import { dataEnvelope, jsonContent } from '../../lib/envelope.ts';
import { orgParams } from '../../lib/fields.ts';
import { listEnvelope, paginationQuery } from '../../lib/pagination.ts';
import { jsonBody, optionalJsonBody } from '../../lib/request-body.ts';
import { orgRoute } from '../route-kinds.ts';
import { apiKeyParams, apiKeySchema, apiKeyWithSecretSchema, createApiKeyBody, rotateApiKeyBody } from './api-keys.schemas.ts';

const tags = ['API keys'];

export const createApiKey = orgRoute('api_keys:write', {
  method: 'post',
  path: '/orgs/{orgId}/api-keys',
  tags,
  summary: 'Create an API key',
  description: 'The key is in `data.key`, in this response only. Every scope must be a permission your own org role holds (else 403).',
  request: { params: orgParams, body: jsonBody(createApiKeyBody, 'The key to create.') },
  responses: { 201: jsonContent(dataEnvelope(apiKeyWithSecretSchema), 'The new key, with its secret.'), ...bodyErrorResponses, ...quotaErrorResponses },
});

export const listApiKeys = orgRoute('api_keys:read', {
  method: 'get',
  path: '/orgs/{orgId}/api-keys',
  tags,
  summary: 'List API keys',
  description: 'Newest first, revoked ones included (see `revokedAt`). Cursor-paginated. Never includes secrets.',
  request: { params: orgParams, query: paginationQuery },
  responses: { 200: jsonContent(listEnvelope(apiKeySchema), 'A page of keys.') },
});

export const rotateApiKey = orgRoute('api_keys:write', {
  method: 'post',
  path: '/orgs/{orgId}/api-keys/{keyId}/rotate',
  tags,
  summary: 'Rotate an API key',
  description:
    'Issues a new secret (in `data.key`, shown once). The old secret keeps working for `gracePeriodSeconds` (until ' +
    '`data.previousSecretExpiresAt`), then fails with 401. While a previous secret is still in its grace period the key cannot be ' +
    'rotated again (409, `details.previousSecretExpiresAt`): a rotation never cuts a grace short. You must hold every scope of the key (else 403).',
  request: { params: apiKeyParams, body: optionalJsonBody(rotateApiKeyBody, 'Optional: the grace period of the old secret.') },
  responses: {
    200: jsonContent(dataEnvelope(apiKeyWithSecretSchema), 'The key, with its new secret.'),
    409: errorResponse('The key is revoked or expired, or its previous secret is still in its grace period (`details.previousSecretExpiresAt`).'),
    ...bodyErrorResponses,
  },
});

export const revokeApiKey = orgRoute('api_keys:write', {
  method: 'delete',
  path: '/orgs/{orgId}/api-keys/{keyId}',
  tags,
  summary: 'Revoke an API key',
  description: 'The key fails at once, everywhere. Revoking a revoked key changes nothing.',
  request: { params: apiKeyParams },
  responses: { 204: { description: 'Revoked.' } },
});
