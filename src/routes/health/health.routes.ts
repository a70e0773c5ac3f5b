import { z } from '@hono/zod-openapi';
import { dataEnvelope, jsonContent } from '../../lib/envelope.ts';
import { publicRoute } from '../route-kinds.ts';

const checkSchema = z.object({ status: z.enum(['ok', 'fail']), latencyMs: z.number() });

export const readinessSchema = z
  .object({
    status: z.enum(['ok', 'fail']),
    checks: z.record(z.string(), checkSchema).openapi({
      example: { postgres: { status: 'ok', latencyMs: 3.2 }, cache: { status: 'ok', latencyMs: 0.4 } },
    }),
  })
  .openapi('Readiness');

export const live = publicRoute({
  method: 'get',
  path: '/live',
  tags: ['Health'],
  summary: 'Liveness: the Worker answers. Does no I/O.',
  responses: {
    200: jsonContent(dataEnvelope(z.object({ status: z.literal('ok') })), 'The Worker is running.'),
  },
});

export const ready = publicRoute({
  method: 'get',
  path: '/ready',
  tags: ['Health'],
  summary: 'Readiness: Postgres, both KV namespaces, R2, each Durable Object namespace and the queue answer.',
  responses: {
    200: jsonContent(dataEnvelope(readinessSchema), 'Every dependency answered.'),
    503: jsonContent(dataEnvelope(readinessSchema), 'At least one dependency failed; its check says `fail`.'),
  },
});
