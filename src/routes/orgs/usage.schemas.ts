import { z } from '@hono/zod-openapi';
import { usageSeriesSchema } from './usage-series.ts';
import { effectiveLimits, QUOTA_RESOURCES, RATE_WINDOW_SECONDS, ORG_ROUTE_CLASSES, TIERS, type LimitOverrides, type QuotaResource, type Tier } from '../../lib/limits.ts';

const rateLimitSchema = z.object({
  limit: z.int().openapi({ description: 'Requests admitted per window.' }),
  windowSeconds: z.int().openapi({ example: RATE_WINDOW_SECONDS }),
});

const quotaSchema = z.object({
  limit: z.int().openapi({ description: 'How many the org may hold.' }),
  used: z.int().openapi({ description: 'How many it holds now (members: including pending invitations).' }),
});

/** An org's limits as they apply to it now (its tier with any override a platform admin set) and its use of each quota. */
export const orgUsageSchema = z
  .object({
    subscriptionTier: z.enum(TIERS),
    rateLimits: z.record(z.enum(ORG_ROUTE_CLASSES), rateLimitSchema).openapi({ description: 'The org’s, per route class (`x-rate-limit-class`).' }),
    callerRateLimits: z
      .record(z.enum(ORG_ROUTE_CLASSES), rateLimitSchema)
      .openapi({ description: 'Each caller’s own (a user across their sessions, an API key), per route class, beside the org’s.' }),
    quotas: z.record(z.enum(QUOTA_RESOURCES), quotaSchema),
    storage: z
      .object({
        usedBytes: z.int().openapi({ description: 'Bytes of stored files and of uploads in progress (their declared size).' }),
        limitBytes: z.int(),
        maxUploadBytes: z.int().openapi({ description: 'The largest single file.' }),
      })
      .openapi({ description: 'Files (by tier, with any override): what the org stores and may store.' }),
    series: usageSeriesSchema.optional().openapi({ description: 'Only when `from`, `to` or `granularity` is given: the daily usage from the rollups.' }),
  })
  .openapi('OrganizationUsage');

/** The org's tier, overrides and counts → the response: every route class and every quota, named. */
export function toOrgUsage(tier: Tier, overrides: LimitOverrides, used: Record<QuotaResource, number>, storageUsed = 0): z.infer<typeof orgUsageSchema> {
  const limits = effectiveLimits(tier, overrides);
  const rates = (figures: Record<(typeof ORG_ROUTE_CLASSES)[number], number>) =>
    Object.fromEntries(ORG_ROUTE_CLASSES.map((routeClass) => [routeClass, { limit: figures[routeClass], windowSeconds: RATE_WINDOW_SECONDS }])) as Record<
      (typeof ORG_ROUTE_CLASSES)[number],
      { limit: number; windowSeconds: number }
    >;
  const quota = (resource: QuotaResource) => ({ limit: limits.quotas[resource], used: used[resource] });
  return {
    subscriptionTier: tier,
    rateLimits: rates(limits.rateLimits),
    callerRateLimits: rates(limits.callerRateLimits),
    quotas: { projects: quota('projects'), members: quota('members'), apiKeys: quota('apiKeys') },
    storage: { usedBytes: storageUsed, limitBytes: limits.files.storageBytes, maxUploadBytes: limits.files.maxUploadBytes },
  };
}
