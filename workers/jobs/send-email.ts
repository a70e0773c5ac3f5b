import { getConfig } from '../../src/config.ts';
import { deliverEmail } from '../../src/services/email.ts';
import type { ParsedJobPayload } from '../../src/services/jobs.ts';
import type { JobContext } from './types.ts';

/**
 * Job `email.send`: renders the template and hands the email to the provider (or the dev outbox).
 * A failure throws, so the queue retries with backoff; see `deliverEmail` for what a retry may repeat.
 */
export async function sendEmail({ env, db }: JobContext, payload: ParsedJobPayload<'email.send'>): Promise<void> {
  await deliverEmail(getConfig(env), db, payload);
}
