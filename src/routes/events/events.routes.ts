import { bodyErrorResponses, errorResponse } from '../../errors.ts';
import { dataEnvelope, jsonContent } from '../../lib/envelope.ts';
import { orgParams } from '../../lib/fields.ts';
import { USAGE_LIMITS } from '../../lib/limits.ts';
import { jsonBody } from '../../lib/request-body.ts';
import { orgRoute } from '../route-kinds.ts';
import { eventsAcceptedSchema, postEventsBody } from './events.schemas.ts';

export const postEvents = orgRoute('events:write', {
  method: 'post',
  path: '/orgs/{orgId}/events',
  tags: ['Usage'],
  summary: 'Send product events',
  description:
    `Records 1–${USAGE_LIMITS.eventsPerRequest} product events of the caller (a user or an API key) in the organization's usage ` +
    'analytics, timestamped by the server. Accepted means queued: they are stored within seconds and counted in the daily ' +
    `rollups at the next refresh. Together, as stored, the request's events may take at most ${USAGE_LIMITS.batchBytes.toLocaleString('en-US')} ` +
    'bytes of JSON (more is a 413). Rate limited as a write of the org (`x-rate-limit-class`).',
  changesNothing: true,
  request: { params: orgParams, body: jsonBody(postEventsBody, 'The events.') },
  responses: {
    202: jsonContent(dataEnvelope(eventsAcceptedSchema), 'The events are queued.'),
    ...bodyErrorResponses,
    413: errorResponse(`The body is larger than the configured limit, or the events take more than ${USAGE_LIMITS.batchBytes.toLocaleString('en-US')} bytes as stored (\`PAYLOAD_TOO_LARGE\`).`),
  },
});
