import { dataEnvelope, jsonContent } from '../../lib/envelope.ts';
import { orgParams } from '../../lib/fields.ts';
import { orgRoute } from '../route-kinds.ts';
import { orgUsageQuery } from './usage-series.ts';
import { orgUsageSchema } from './usage.schemas.ts';

export const getOrgUsage = orgRoute('org:read', {
  method: 'get',
  path: '/orgs/{orgId}/usage',
  tags: ['Organizations'],
  summary: 'Limits and usage of an organization',
  description:
    'The subscription tier, each rate limit (per route class, per minute) and each quota with its current use, as they apply ' +
    'now: the tier’s figures with any override a platform admin set. A create beyond a quota is a 403 `QUOTA_EXCEEDED`. ' +
    'With `from`, `to` or `granularity=day`, also `series`: the usage analytics per day, read from the daily rollups (refreshed every 5 minutes).',
  request: { params: orgParams, query: orgUsageQuery },
  responses: { 200: jsonContent(dataEnvelope(orgUsageSchema), 'The limits and the usage.') },
});
