import { getConfig } from '../../src/config.ts';
import type { ParsedJobPayload } from '../../src/services/jobs.ts';
import { recordUsageEvents, usageRetentionStart } from '../../src/services/usage.ts';
import type { JobContext } from './types.ts';

/**
 * Job `usage.record`: one message's usage events into their monthly partitions, in one round trip. A redelivery
 * inserts nothing twice (each event keeps its id and time); events already past retention are dropped.
 */
export async function recordUsage({ env, db }: JobContext, payload: ParsedJobPayload<'usage.record'>): Promise<void> {
  await recordUsageEvents(db, payload.events, usageRetentionStart(Date.now(), getConfig(env).USAGE_RETENTION_MONTHS));
}
