import { describeError, log } from '../lib/log.ts';

// Which orgs have webhook endpoints, in KV: every org write asks, so orgs without webhooks cost no fan-out job
// (and no Postgres round trip). Set when an endpoint is created and never cleared (a stale "yes" costs one
// empty fan-out). KV is eventually consistent: a write within a minute of an org's first endpoint may not see
// the flag yet; the cron sweep fans it out within 5 minutes.

const key = (orgId: string) => `webhooks:org:${orgId}`;

/** Remembers that `orgId` has webhook endpoints. */
export async function markOrgHasWebhooks(kv: KVNamespace, orgId: string): Promise<void> {
  await kv.put(key(orgId), '1');
}

/** Whether `orgId` may have webhook endpoints; a failing KV answers yes (a spare fan-out beats a late event). */
export async function orgHasWebhooks(kv: KVNamespace, orgId: string): Promise<boolean> {
  try {
    return (await kv.get(key(orgId), { cacheTtl: 60 })) !== null;
  } catch (error) {
    log('warn', 'webhook org flag unreadable', { orgId, error: describeError(error) });
    return true;
  }
}
