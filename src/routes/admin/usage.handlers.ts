import type { RouteHandler } from '@hono/zod-openapi';
import type { Tier } from '../../lib/limits.ts';
import { selectPlatformUsage } from '../../services/usage.ts';
import { seriesRange } from '../orgs/usage-series.ts';
import type { getAdminUsage } from './usage.routes.ts';

/** One round trip: the platform gate and platform_usage_summary over the daily rollups. */
export const getAdminUsageHandler: RouteHandler<typeof getAdminUsage> = async (c) => {
  const { from, to, limit } = c.req.valid('query');
  const range = seriesRange({ from, to, granularity: 'day' }, Date.now()) ?? { from: '', to: '' };
  const [{ rows }] = await c.var.platform.batch((db) => [selectPlatformUsage(db, range.from, range.to, limit)]);
  const orgs = rows.map((row) => ({
    orgId: row.org_id,
    name: row.name,
    slug: row.slug,
    subscriptionTier: row.subscription_tier as Tier,
    requests: Number(row.requests),
    clientErrors: Number(row.client_errors),
    serverErrors: Number(row.server_errors),
    productEvents: Number(row.product_events),
    peakActiveUsers: row.peak_active_users,
    activeDays: row.active_days,
    storageBytes: Number(row.storage_bytes),
  }));
  return c.json({ data: { from: range.from, to: range.to, orgs } }, 200);
};
