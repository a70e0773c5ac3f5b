import { z } from '@hono/zod-openapi';
import { cursorTimestamp, lineField, pathId } from '../../lib/fields.ts';
import { effectiveLimits, limitOverridesSchema, QUOTA_RESOURCES, ORG_ROUTE_CLASSES, TIERS, type Tier } from '../../lib/limits.ts';
import { paginationQuery } from '../../lib/pagination.ts';
import type { PlatformOrgOverview, PlatformOrgRow } from '../../services/platform-orgs.ts';

export const tierSchema = z.enum(TIERS).openapi('SubscriptionTier');

// limitOverridesSchema is plain zod (src/lib stays free of the OpenAPI extension), so it is used as is, unnamed.
const overridesSchema = limitOverridesSchema;

const rateLimitsSchema = z.record(z.enum(ORG_ROUTE_CLASSES), z.int()).openapi({ description: 'Requests per minute, per route class.' });
const quotasSchema = z.record(z.enum(QUOTA_RESOURCES), z.int());
const fileLimitsSchema = z
  .object({ maxUploadBytes: z.int().openapi({ description: 'The largest single file.' }), storageBytes: z.int().openapi({ description: 'The bytes the org may store.' }) })
  .openapi({ description: 'Files: the largest single file and the storage quota.' });

/** What an org holds: per quota, and the bytes it stores. */
const adminUsageSchema = z.object({
  projects: z.int(),
  members: z.int(),
  apiKeys: z.int(),
  storageBytes: z.int().openapi({ description: 'Bytes of stored files and of uploads in progress (their declared size): the org usage endpoint’s `storage.usedBytes`.' }),
});

/** An org as platform admins see it in lists. */
export const adminOrgSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    slug: z.string(),
    subscriptionTier: tierSchema,
    limitOverrides: overridesSchema,
    createdAt: z.iso.datetime({ precision: 6 }),
    updatedAt: z.iso.datetime({ precision: 6 }),
  })
  .openapi('AdminOrganization');

/** One org: its effective limits (tier with overrides applied) and what it holds against the quotas. */
export const adminOrgDetailSchema = adminOrgSchema
  .extend({
    limits: z
      .object({
        rateLimits: rateLimitsSchema,
        callerRateLimits: rateLimitsSchema.openapi({ description: 'Requests per minute of one caller (a user, an API key), per route class.' }),
        quotas: quotasSchema,
        files: fileLimitsSchema,
      }).openapi({ description: 'The tier’s figures with the overrides applied.' }),
    usage: adminUsageSchema.openapi({ description: 'What the org holds now, per quota (members count pending invitations), and the bytes it stores.' }),
  })
  .openapi('AdminOrganizationDetail');

export const adminOrgParams = z.object({ orgId: pathId('orgId') });

export const listAdminOrgsQuery = paginationQuery.extend({
  tier: tierSchema.optional().openapi({ param: { name: 'tier', in: 'query' } }),
  q: lineField(100)
    .optional()
    .openapi({ param: { name: 'q', in: 'query' }, description: 'Case-insensitive substring of the slug or the name.', example: 'acme' }),
});

/** Cursor of the org list, newest first: (created at, exact to the microsecond; id). */
export const adminOrgCursor = z.tuple([cursorTimestamp, z.uuid()]);

export const updateAdminOrgBody = z
  .strictObject({
    subscriptionTier: tierSchema.optional(),
    // Replaces the org's overrides as a whole; `{}` clears them (the route's description says so).
    limitOverrides: overridesSchema.optional(),
  })
  .openapi('UpdateAdminOrganization');

const parseOverrides = (value: unknown) => limitOverridesSchema.parse(value);

/** Row → response: an explicit pick. */
export function toAdminOrg(row: PlatformOrgRow): z.infer<typeof adminOrgSchema> {
  return {
    id: row.id,
    name: row.name,
    slug: row.slug,
    subscriptionTier: row.subscription_tier,
    limitOverrides: parseOverrides(row.limit_overrides),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function toAdminOrgDetail(row: PlatformOrgOverview): z.infer<typeof adminOrgDetailSchema> {
  const org = toAdminOrg(row);
  const tier: Tier = org.subscriptionTier;
  const { projects, members, apiKeys, storageBytes } = row.usage;
  // bigint in SQL: JSON carries it as a number, exact below 2^53 bytes.
  return { ...org, limits: effectiveLimits(tier, org.limitOverrides), usage: { projects, members, apiKeys, storageBytes: Number(storageBytes) } };
}

/** One platform audit entry. */
export const platformAuditEntrySchema = z
  .object({
    id: z.int(),
    actorId: z.uuid().nullable().openapi({ description: 'The platform admin (null if the user is gone).' }),
    action: z.string().openapi({ example: 'org.limits_changed' }),
    targetType: z.string().openapi({ example: 'organization' }),
    targetId: z.string().nullable(),
    changes: z.record(z.string(), z.unknown()).openapi({ description: '`{ field: { from, to } }`, or the created/deleted fields.' }),
    requestId: z.string().nullable(),
    ip: z.string().nullable(),
    createdAt: z.iso.datetime(),
  })
  .openapi('PlatformAuditEntry');

const filterText = lineField(100);

export const listPlatformAuditQuery = paginationQuery.extend({
  action: filterText.optional().openapi({ param: { name: 'action', in: 'query' }, example: 'org.limits_changed' }),
  targetType: filterText.optional().openapi({ param: { name: 'targetType', in: 'query' }, example: 'organization' }),
  targetId: filterText.optional().openapi({ param: { name: 'targetId', in: 'query' } }),
});

export const platformAuditCursor = z.tuple([z.int().positive()]);

type PlatformAuditRow = {
  id: number;
  actorId: string | null;
  action: string;
  targetType: string;
  targetId: string | null;
  changes: unknown;
  requestId: string | null;
  ip: string | null;
  createdAt: Date;
};

export function toPlatformAuditEntry(row: PlatformAuditRow): z.infer<typeof platformAuditEntrySchema> {
  return {
    id: row.id,
    actorId: row.actorId,
    action: row.action,
    targetType: row.targetType,
    targetId: row.targetId,
    changes: (row.changes ?? {}) as Record<string, unknown>,
    requestId: row.requestId,
    ip: row.ip,
    createdAt: row.createdAt.toISOString(),
  };
}
