import { describe, expect, it } from 'vitest';
import notificationsSql from '../../src/db/sql/notifications.sql?raw';
import usageSql from '../../src/db/sql/usage.sql?raw';
import { USAGE_LIMITS } from '../../src/lib/limits.ts';
import { NOTIFICATION_RETENTION_DAYS } from '../../src/lib/notification-categories.ts';

/** Floors the SQL functions apply on their own (a hostile caller cannot pass past them) are the app's figures. */
describe('limits written into SQL', () => {
  it("app_prune_notifications never deletes what is younger than NOTIFICATION_RETENTION_DAYS", () => {
    expect(notificationsSql).toContain(`least(p_before, now() - interval '${NOTIFICATION_RETENTION_DAYS} days')`);
  });

  it('app_usage_drop_partitions keeps USAGE_LIMITS.retentionMinMonths, the least USAGE_RETENTION_MONTHS may say', () => {
    expect(usageSql).toContain(`date_trunc('month', now() AT TIME ZONE 'UTC') - interval '${USAGE_LIMITS.retentionMinMonths} months'`);
  });
});
