import { z } from '@hono/zod-openapi';
import { dataEnvelope, jsonContent } from '../../lib/envelope.ts';
import { pathId } from '../../lib/fields.ts';
import { userRoute } from '../route-kinds.ts';

export const sessionSchema = z
  .object({
    id: z.uuid(),
    userAgent: z.string().nullable(),
    ip: z.string().nullable(),
    createdAt: z.iso.datetime(),
    lastUsedAt: z.iso.datetime(),
    current: z.boolean().openapi({ description: 'Whether this is the session of the token making the request.' }),
  })
  .openapi('Session');

export const sessionParams = z.object({ sessionId: pathId('sessionId') });

export const revokeAllQuery = z.strictObject({
  keepCurrent: z
    .enum(['true', 'false'])
    .default('false')
    .transform((value) => value === 'true')
    .openapi({ param: { name: 'keepCurrent', in: 'query' }, description: "Keep the caller's own session.", type: 'string', enum: ['true', 'false'], default: 'false' }),
});

export const listSessionsRoute = userRoute({
  method: 'get',
  path: '/me/sessions',
  tags: ['Sessions'],
  summary: 'Your live sessions',
  responses: { 200: jsonContent(dataEnvelope(z.array(sessionSchema)), 'Live sessions, most recently used first.') },
});

export const revokeSessionRoute = userRoute({
  method: 'delete',
  path: '/me/sessions/{sessionId}',
  tags: ['Sessions'],
  summary: 'Revoke one of your sessions',
  description: "Its refresh and access tokens stop working at once. Another user's session answers 404.",
  request: { params: sessionParams },
  responses: { 204: { description: 'The session is revoked.' } },
});

export const revokeAllSessionsRoute = userRoute({
  method: 'delete',
  path: '/me/sessions',
  tags: ['Sessions'],
  summary: 'Revoke all your sessions',
  request: { query: revokeAllQuery },
  responses: { 204: { description: 'The sessions are revoked.' } },
});
