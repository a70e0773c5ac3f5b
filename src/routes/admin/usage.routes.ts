import { z } from '@hono/zod-openapi';
import { dataEnvelope, jsonContent } from '../../lib/envelope.ts';
import { dayField } from '../../lib/fields.ts';
import { TIERS, USAGE_LIMITS } from '../../lib/limits.ts';
import { paginationQuery } from '../../lib/pagination.ts';
import { platformRoute } from '../route-kinds.ts';

export const adminUsageQuery = z.strictObject({
  from: dayField.optional().openapi({ description: 'First day (UTC); default: 29 days before `to`.' }),
  to: dayField.optional().openapi({ description: 'Last day (UTC); default: today.' }),
  limit: paginationQuery.shape.limit.openapi({ description: 'How many orgs (the busiest first), 1–100 (decimal digits).' }),
});

const adminOrgUsageSchema = z
  .object({
    orgId: z.uuid(),
    name: z.string(),
    slug: z.string(),
    subscriptionTier: z.enum(TIERS),
    requests: z.int(),
    clientErrors: z.int(),
    serverErrors: z.int(),
    productEvents: z.int(),
    peakActiveUsers: z.int().openapi({ description: 'The most active users of one day in the range.' }),
    activeDays: z.int().openapi({ description: 'Days in the range with any usage.' }),
    storageBytes: z.int().openapi({ description: 'Bytes stored on the last day in the range with usage.' }),
  })
  .openapi('AdminOrgUsage');

export const adminUsageSchema = z.object({ from: z.string().openapi({ format: 'date' }), to: z.string().openapi({ format: 'date' }), orgs: z.array(adminOrgUsageSchema) });

export const getAdminUsage = platformRoute({
  method: 'get',
  path: '/admin/usage',
  tags: ['Platform administration'],
  summary: 'Usage across organizations (platform)',
  description:
    `Each live organization's usage over [\`from\`, \`to\`] (at most ${USAGE_LIMITS.seriesDays} days), the busiest first, from the daily ` +
    'rollups (never the raw events). Platform admins only; for anyone else this route does not exist (404).',
  request: { query: adminUsageQuery },
  responses: { 200: jsonContent(dataEnvelope(adminUsageSchema), 'The usage per organization.') },
});
