import { z } from '@hono/zod-openapi';
import { cursorTimestamp, dateTimeField, gracePeriodField, orgParams, pathId, textField } from '../../lib/fields.ts';
import { paginationQuery } from '../../lib/pagination.ts';
import { webhookUrlProblem } from '../../lib/ssrf.ts';
import { WEBHOOK_EVENT_TYPES } from '../../lib/webhook-events.ts';

export const eventTypeSchema = z.enum(WEBHOOK_EVENT_TYPES).openapi('WebhookEventType');

const urlDescription =
  'Where events are POSTed. `https` only, to a public host: no credentials in the URL, no IP address that is loopback, ' +
  'private, link-local, CGNAT, multicast, documentation or otherwise reserved (IPv4-mapped and NAT64 IPv6 forms included), ' +
  'no `localhost`/`.local`/`.internal` names; in production the host must also resolve to public addresses only. ' +
  'Development and test also take `http://127.0.0.1:<port>/…` for a local receiver. Redirects are never followed.';

/** The endpoint URL; loopback receivers pass here, and are refused outside development and test by the handler. */
const urlField = z
  .string()
  .max(2048)
  .regex(/^https?:\/\//, 'must start with https://')
  .superRefine((url, ctx) => {
    const problem = webhookUrlProblem(url, true);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  })
  .openapi({ format: 'uri', description: urlDescription, example: 'https://example.com/webhooks' });

const eventTypesField = z
  .array(eventTypeSchema)
  .min(1)
  .max(WEBHOOK_EVENT_TYPES.length)
  .transform((types) => [...new Set(types)])
  .nullable()
  .openapi({ description: 'The event types to deliver; `null` (the default): every type, including those added later.' });

export const webhookEndpointSchema = z
  .object({
    id: z.uuid(),
    url: z.string(),
    description: z.string(),
    eventTypes: z.array(eventTypeSchema).nullable(),
    enabled: z.boolean(),
    disabledReason: z.string().nullable().openapi({ description: 'Set when the system disabled the endpoint (e.g. `failing for 5 days`).' }),
    previousSecretExpiresAt: z.iso.datetime().nullable().openapi({ description: 'Until then the previous secret signs too (a second `v1,` signature).' }),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .openapi('WebhookEndpoint');

export const webhookEndpointWithSecretSchema = webhookEndpointSchema
  .extend({ secret: z.string().openapi({ description: 'The signing secret (`whsec_…`). Shown only in this response: store it now.', example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' }) })
  .openapi('WebhookEndpointWithSecret');

export const createEndpointBody = z
  .strictObject({
    url: urlField,
    description: textField(500).optional(),
    eventTypes: eventTypesField.optional(),
    enabled: z.boolean().optional().openapi({ description: 'Default true.' }),
  })
  .openapi('CreateWebhookEndpoint');

export const updateEndpointBody = z
  .strictObject({
    url: urlField.optional(),
    description: textField(500).optional(),
    eventTypes: eventTypesField.optional(),
    enabled: z.boolean().optional().openapi({ description: 'Enabling clears `disabledReason` and restarts the 5-day failure clock.' }),
  })
  .openapi('UpdateWebhookEndpoint');

export const rotateSecretBody = z
  .strictObject({
    gracePeriodSeconds: gracePeriodField('the previous secret keeps signing too'),
  })
  .openapi('RotateWebhookSecret');

export const replayBody = z
  .strictObject({
    since: dateTimeField
      .refine((value) => !(Date.parse(value) > Date.now()), 'must not be in the future')
      .refine((value) => !(Date.parse(value) < Date.now() - 30 * 86_400_000), 'must be within the last 30 days')
      .openapi({ description: 'Replay the events from this date-time on (at most 30 days back).' }),
  })
  .openapi('ReplayWebhookEvents');

export const endpointParams = orgParams.extend({ endpointId: pathId('endpointId') });
export const messageParams = endpointParams.extend({
  // Any other well-formed value is simply not found (404): message ids are `msg_` + 32 hex digits.
  messageId: z
    .string()
    .regex(/^[\w-]{1,64}$/)
    .openapi({ param: { name: 'messageId', in: 'path' }, example: 'msg_0f8fad5bd9cb469fa16570867728950e' }),
});

export const WEBHOOK_STATUSES = ['pending', 'succeeded', 'failed', 'dead'] as const;

export const webhookDeliverySchema = z
  .object({
    id: z.string().openapi({ description: 'The message id: the `webhook-id` header of every attempt (receivers dedupe by it).' }),
    eventType: z.string(),
    auditSeq: z.number().int().nullable().openapi({ description: 'The audit entry the event derives from (null for test events).' }),
    status: z.enum(WEBHOOK_STATUSES).openapi({
      description: '`pending`: an attempt is due at `nextAttemptAt`; `succeeded`: a 2xx came back; `failed`: not sent, the endpoint was disabled; `dead`: every attempt failed.',
    }),
    attempts: z.number().int(),
    nextAttemptAt: z.iso.datetime().nullable(),
    lastAttemptAt: z.iso.datetime().nullable(),
    lastStatusCode: z.number().int().nullable(),
    lastLatencyMs: z.number().int().nullable(),
    lastError: z.string().nullable(),
    lastResponse: z.string().nullable().openapi({ description: "The start of the receiver's last response body (1 KiB at most)." }),
    createdAt: z.iso.datetime(),
  })
  .openapi('WebhookDelivery');

export const deliveryQuery = paginationQuery.extend({
  status: z.enum(WEBHOOK_STATUSES).optional().openapi({ param: { name: 'status', in: 'query' }, description: 'Only deliveries in this status.' }),
});

export const queuedSchema = z
  .object({ queued: z.number().int(), more: z.boolean().openapi({ description: 'More events remain: replay again from the last one queued.' }) })
  .openapi('WebhookReplay');

/** Cursors of both lists, newest first: (created at, exact to the microsecond; id). */
export const endpointCursor = z.tuple([cursorTimestamp, z.uuid()]);
export const deliveryCursor = z.tuple([cursorTimestamp, z.string().regex(/^msg_[0-9a-f]{32}$/)]);

type EndpointRow = {
  id: string;
  url: string;
  description: string;
  eventTypes: string[] | null;
  enabled: boolean;
  disabledReason: string | null;
  previousExpiresAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
};

const known = (types: string[]) => types.filter((type): type is z.infer<typeof eventTypeSchema> => (WEBHOOK_EVENT_TYPES as readonly string[]).includes(type));

/** Row → response: an explicit pick, so the sealed secrets can never leak. */
export function toEndpoint(row: EndpointRow, now = Date.now()): z.infer<typeof webhookEndpointSchema> {
  return {
    id: row.id,
    url: row.url,
    description: row.description,
    eventTypes: row.eventTypes ? known(row.eventTypes) : null,
    enabled: row.enabled,
    disabledReason: row.disabledReason,
    previousSecretExpiresAt: row.previousExpiresAt && row.previousExpiresAt.getTime() > now ? row.previousExpiresAt.toISOString() : null,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

type MessageRow = {
  id: string;
  eventType: string;
  auditSeq: number | null;
  status: string;
  attempts: number;
  nextAttemptAt: Date | null;
  lastAttemptAt: Date | null;
  lastStatusCode: number | null;
  lastLatencyMs: number | null;
  lastError: string | null;
  lastResponse: string | null;
  createdAt: Date;
};

export function toDelivery(row: MessageRow): z.infer<typeof webhookDeliverySchema> {
  const status = (WEBHOOK_STATUSES as readonly string[]).includes(row.status) ? (row.status as (typeof WEBHOOK_STATUSES)[number]) : 'pending';
  return {
    id: row.id,
    eventType: row.eventType,
    auditSeq: row.auditSeq,
    status,
    attempts: row.attempts,
    nextAttemptAt: row.nextAttemptAt?.toISOString() ?? null,
    lastAttemptAt: row.lastAttemptAt?.toISOString() ?? null,
    lastStatusCode: row.lastStatusCode,
    lastLatencyMs: row.lastLatencyMs,
    lastError: row.lastError,
    lastResponse: row.lastResponse,
    createdAt: row.createdAt.toISOString(),
  };
}
