import { z, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { TEST_EVENT_TYPE, WEBHOOK_EVENT_CATALOGUE, WEBHOOK_EVENT_TYPES } from '../../lib/webhook-events.ts';

// The event catalogue in the OpenAPI document: OpenAPI 3.1's top-level `webhooks`, one operation per event type,
// each with the JSON Schema of its payload (as components) and the Standard Webhooks headers.

const eventDataSchema = z
  .object({
    id: z.string().nullable().openapi({ description: 'The id of what changed (a user id for member and project-member events).' }),
    orgId: z.uuid(),
    actor: z.object({ type: z.enum(['user', 'api_key', 'system']), id: z.string().nullable() }).openapi({ description: 'Who made the change.' }),
    changes: z.record(z.string(), z.unknown()).openapi({
      description: 'As in the audit log: created/deleted rows their fields, updates `{ field: { from, to } }`; secrets redacted, emails masked.',
    }),
    auditSeq: z.number().int().openapi({ description: 'The audit entry (`GET /orgs/{orgId}/audit-logs`) this event derives from.' }),
    requestId: z.string().nullable(),
  })
  .openapi('WebhookEventData');

const eventSchema = (type: string, data: z.ZodType) =>
  z.object({ type: z.literal(type), timestamp: z.iso.datetime().openapi({ description: 'When the change committed.' }), data });

const componentName = (type: string) => `${type.split(/[._]/).map((word) => word.charAt(0).toUpperCase() + word.slice(1)).join('')}Event`;

const headers = z.object({
  'webhook-id': z.string().openapi({ description: 'The message id (`msg_…`): the same on every attempt, so dedupe by it.' }),
  'webhook-timestamp': z.string().openapi({ description: 'Unix seconds when this attempt was signed; refuse ones more than 5 minutes off.' }),
  'webhook-signature': z.string().openapi({
    description: 'Space-separated `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`, one per signing secret (two during a rotation).',
  }),
});

const testData = z.object({ orgId: z.uuid(), endpointId: z.uuid(), message: z.string() }).openapi('WebhookTestEventData');

/** Publishes every event type under the document's `webhooks` (registered on the root app: sub-app paths get prefixed). */
export function registerWebhookEvents(app: OpenAPIHono<AppEnv>): void {
  const events: Array<[string, string, z.ZodType]> = [
    ...WEBHOOK_EVENT_TYPES.map((type): [string, string, z.ZodType] => [type, WEBHOOK_EVENT_CATALOGUE[type].description, eventDataSchema]),
    [TEST_EVENT_TYPE, 'Sent on request by "send test event".', testData],
  ];
  for (const [type, description, data] of events) {
    app.openAPIRegistry.registerWebhook({
      method: 'post',
      path: type,
      tags: ['Webhook events'],
      summary: type,
      description: `${description} Signed per Standard Webhooks; any 2xx within 15 s acknowledges it, anything else is retried (README, "Webhooks").`,
      request: { headers, body: { content: { 'application/json': { schema: eventSchema(type, data).openapi(componentName(type)) } } } },
      responses: { 200: { description: 'Any 2xx: received. Other statuses, timeouts and redirects are failures.' } },
    });
  }
}
