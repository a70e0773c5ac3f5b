import { getConfig } from '../../src/env.ts';
import { deliverEmail, emailMessageSchema, type EmailMessage } from '../../src/services/email.ts';
import type { JobContext } from './registry.ts';

export const sendEmailPayload = emailMessageSchema;

/**
 * Job `email.send`: renders the template and hands the email to the provider (or the dev outbox).
 * A failure throws, so the queue retries with backoff; see `deliverEmail` for what a retry may repeat.
 */
export async function sendEmail({ env, db }: JobContext, payload: EmailMessage): Promise<void> {
  await deliverEmail(getConfig(env), db, payload);
}
