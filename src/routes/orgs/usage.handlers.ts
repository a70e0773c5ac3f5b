import type { RouteHandler } from '@hono/zod-openapi';
import { ApiError } from '../../errors.ts';
import { limitOverridesSchema } from '../../lib/limits.ts';
import { selectOrgLimits } from '../../services/organizations.ts';
import type { getOrgUsage } from './usage.routes.ts';
import { toOrgUsage } from './usage.schemas.ts';

/** One round trip: gate, and the org's tier, overrides and counts. */
export const getOrgUsageHandler: RouteHandler<typeof getOrgUsage> = async (c) => {
  const [[org]] = await c.var.tenant.batch((db) => [selectOrgLimits(db, c.req.valid('param').orgId)]);
  if (!org) throw new ApiError('NOT_FOUND', 'Organization not found.');
  return c.json({ data: toOrgUsage(org.tier, limitOverridesSchema.parse(org.overrides), org.usage, Number(org.storageUsed)) }, 200);
};
