import type { RouteHandler } from '@hono/zod-openapi';
import { ApiError } from '../../errors.ts';
import { limitOverridesSchema } from '../../lib/limits.ts';
import { selectOrgLimits } from '../../services/organizations.ts';
import { selectUsageSeries } from '../../services/usage.ts';
import { seriesRange, toUsageSeries } from './usage-series.ts';
import type { getOrgUsage } from './usage.routes.ts';
import { toOrgUsage } from './usage.schemas.ts';

/** One round trip: gate, and the org's tier, overrides and counts (and, when asked, its daily rollups). */
export const getOrgUsageHandler: RouteHandler<typeof getOrgUsage> = async (c) => {
  const { orgId } = c.req.valid('param');
  const range = seriesRange(c.req.valid('query'), Date.now());
  const [[org], rows] = range
    ? await c.var.tenant.batch((db) => [selectOrgLimits(db, orgId), selectUsageSeries(db, orgId, range.from, range.to)])
    : [...(await c.var.tenant.batch((db) => [selectOrgLimits(db, orgId)])), []];
  if (!org) throw new ApiError('NOT_FOUND', 'Organization not found.');
  const usage = toOrgUsage(org.tier, limitOverridesSchema.parse(org.overrides), org.usage, Number(org.storageUsed));
  return c.json({ data: range ? { ...usage, series: toUsageSeries(range, rows) } : usage }, 200);
};
