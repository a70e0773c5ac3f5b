import { sql, type SQL } from 'drizzle-orm';
import { QUOTAS, type QuotaResource } from '../lib/limits.ts';

// THE quota figures travel with each check, so src/lib/limits.ts stays the one place they are written.
const quotasJson = JSON.stringify(QUOTAS);

/**
 * The statement that refuses a create beyond the org's quota of `resource` (its tier's figure or its
 * override): 403 QUOTA_EXCEEDED with `{ resource, limit, used }`, and the batch rolls back, so nothing is
 * created. Put it in the same batch as the insert, right before it: it locks the org row, so concurrent
 * creates are counted one after another and never overshoot (app_check_quota, src/db/sql/platform-orgs.sql).
 */
export function quotaCheck(orgId: string, resource: QuotaResource): SQL {
  return sql`select app_check_quota(${orgId}::uuid, ${resource}, ${quotasJson}::jsonb)`;
}

/** SQL: what the org holds of each quota resource, as `{ projects, members, apiKeys }` (members count pending invitations). */
export function orgUsageSql(orgId: string): SQL<Record<QuotaResource, number>> {
  return sql<Record<QuotaResource, number>>`app_org_usage(${orgId}::uuid)`;
}
