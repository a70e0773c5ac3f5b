import { getConfig } from '../../src/config.ts';
import type { ParsedJobPayload } from '../../src/services/jobs.ts';
import { deliverWebhook } from '../../src/services/webhook-delivery.ts';
import { fanOut } from '../../src/services/webhook-fanout.ts';
import type { JobContext } from './types.ts';

/** Job `webhooks.fanout`: the org's new audit entries become webhook messages, each with its delivery job. */
export async function webhookFanOut({ env, db }: JobContext, payload: ParsedJobPayload<'webhooks.fanout'>): Promise<void> {
  await fanOut(db, env.JOBS, payload.orgId, new Date());
}

/** Job `webhooks.deliver`: one signed attempt of one message (see deliverWebhook). */
export async function webhookDeliver({ env, db }: JobContext, payload: ParsedJobPayload<'webhooks.deliver'>): Promise<void> {
  await deliverWebhook({ config: getConfig(env), db, queue: env.JOBS }, payload);
}
