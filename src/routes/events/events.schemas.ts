import { z } from '@hono/zod-openapi';
import { textField } from '../../lib/fields.ts';
import { USAGE_LIMITS } from '../../lib/limits.ts';
import { EVENT_NAME_PATTERN } from '../../services/usage.ts';

const PROPERTY_KEY = /^[A-Za-z_][\w.-]{0,39}$/;

const propertyValue = z.union([textField(USAGE_LIMITS.propertyValueChars), z.number(), z.boolean(), z.null()]);

// zod-to-openapi has no `propertyNames`; it copies metadata into the schema as written, so it is published that way.
const propertiesDoc = {
  propertyNames: { type: 'string', pattern: PROPERTY_KEY.source },
  maxProperties: USAGE_LIMITS.propertiesPerEvent,
  description:
    `A map: up to ${USAGE_LIMITS.propertiesPerEvent} properties, names as \`${PROPERTY_KEY.source}\`, values strings (at most ` +
    `${USAGE_LIMITS.propertyValueChars} characters, no control characters but tab and line breaks), numbers, booleans or null.`,
};

const properties = z
  .record(z.string().regex(PROPERTY_KEY), propertyValue)
  .refine((value) => Object.keys(value).length <= USAGE_LIMITS.propertiesPerEvent, `at most ${USAGE_LIMITS.propertiesPerEvent} properties`)
  .openapi(propertiesDoc);

const productEvent = z
  .strictObject({
    name: z.string().regex(EVENT_NAME_PATTERN).openapi({ example: 'report.exported' }),
    properties: properties.optional(),
  })
  .openapi('ProductEvent');

export const postEventsBody = z
  .strictObject({ events: z.array(productEvent).min(1).max(USAGE_LIMITS.eventsPerRequest) })
  .openapi('ProductEventBatch');

export const eventsAcceptedSchema = z.object({ accepted: z.int().openapi({ description: 'How many events were queued.' }) }).openapi('ProductEventsAccepted');
