import { z } from '@hono/zod-openapi';
import { bodyErrorResponses, errorResponse } from '../../errors.ts';
import { dataEnvelope, jsonContent } from '../../lib/envelope.ts';
import { jsonBody } from '../../lib/request-body.ts';
import { callerRoute, platformRoute } from '../route-kinds.ts';
import { createFlagBody, flagEvaluationSchema, flagParams, flagSchema, updateFlagBody } from './flags.schemas.ts';

const tags = ['Feature flags'];
const flag = dataEnvelope(flagSchema);
const edgeNote = 'Returns once the edge copy (KV) is written; other edges see the change within ~70 s.';

export const evaluateFlags = callerRoute({
  method: 'get',
  path: '/flags',
  tags,
  summary: 'Every flag, evaluated for the caller',
  description:
    'A user token is evaluated as its user; an API key as its org. Answered from the edge copy of the flags, never from Postgres. ' +
    '`reason` and `errorCode` follow OpenFeature.',
  responses: { 200: jsonContent(dataEnvelope(z.array(flagEvaluationSchema)), 'Each flag with whether it is on for the caller, and why.') },
});

export const listFlags = platformRoute({
  method: 'get',
  path: '/admin/flags',
  tags,
  summary: 'List feature flags',
  description: 'Every flag, by key. Platform admins only: anyone else gets 404.',
  responses: { 200: jsonContent(dataEnvelope(z.array(flagSchema)), 'Every flag.') },
});

export const getFlag = platformRoute({
  method: 'get',
  path: '/admin/flags/{key}',
  tags,
  summary: 'Get a feature flag',
  request: { params: flagParams },
  responses: { 200: jsonContent(flag, 'The flag.') },
});

export const createFlag = platformRoute({
  method: 'post',
  path: '/admin/flags',
  tags,
  summary: 'Create a feature flag',
  description: `Audited. ${edgeNote}`,
  request: { body: jsonBody(createFlagBody, 'The new flag.') },
  responses: { 201: jsonContent(flag, 'The new flag.'), 409: errorResponse('A flag with this key exists (`CONFLICT`).'), ...bodyErrorResponses },
});

export const updateFlag = platformRoute({
  method: 'patch',
  path: '/admin/flags/{key}',
  tags,
  summary: 'Change a feature flag',
  description: `Audited; the version grows by one. A change that changes nothing writes nothing. ${edgeNote}`,
  request: { params: flagParams, body: jsonBody(updateFlagBody, 'The fields to change; the others are kept.') },
  responses: { 200: jsonContent(flag, 'The flag after the change.'), ...bodyErrorResponses },
});

export const deleteFlag = platformRoute({
  method: 'delete',
  path: '/admin/flags/{key}',
  tags,
  summary: 'Delete a feature flag',
  description: `Audited (the entry keeps what the flag was). Code that still asks for it gets \`FLAG_NOT_FOUND\`: off. ${edgeNote}`,
  request: { params: flagParams },
  responses: { 204: { description: 'Deleted.' } },
});
