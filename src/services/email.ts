import { z } from 'zod';
import type { Database } from '../db/client.ts';
import type { Config } from '../config.ts';
import { sha256Hex } from '../lib/crypto.ts';
import { normaliseEmail } from '../lib/passwords.ts';
import { insertOutboxEmail } from './dev-outbox.ts';
import { renderEmail, templateData, type RenderedEmail } from './email-templates.ts';

const recipient = z.email().max(254).transform(normaliseEmail);

/** The `email.send` job payload: `{ to, template, data }`, where `data` is checked against the template's schema. */
export const emailMessageSchema = z.discriminatedUnion('template', [
  z.object({ to: recipient, template: z.literal('verify-email'), data: templateData['verify-email'] }),
  z.object({ to: recipient, template: z.literal('reset-password'), data: templateData['reset-password'] }),
  z.object({ to: recipient, template: z.literal('invitation'), data: templateData.invitation }),
  z.object({ to: recipient, template: z.literal('signup-attempt'), data: templateData['signup-attempt'] }),
  z.object({ to: recipient, template: z.literal('webhook-disabled'), data: templateData['webhook-disabled'] }),
  z.object({ to: recipient, template: z.literal('notification'), data: templateData.notification }),
]);

export type EmailMessage = z.infer<typeof emailMessageSchema>;

type EmailConfig = Pick<Config, 'DEV_OUTBOX' | 'APP_URL' | 'EMAIL_PROVIDER_URL' | 'EMAIL_API_KEY' | 'EMAIL_FROM'>;

const PROVIDER_TIMEOUT_MS = 10_000;

/**
 * Where emails go when no provider is configured: only with `DEV_OUTBOX=on` (development and test; the
 * configuration refuses it elsewhere). A deployment without a provider fails loudly instead of storing tokens.
 */
export function usesDevOutbox(config: Pick<Config, 'DEV_OUTBOX'>): boolean {
  return config.DEV_OUTBOX === 'on';
}

/**
 * Renders and delivers one email: to the HTTP provider when `EMAIL_PROVIDER_URL` is set, else to the
 * dev outbox when `DEV_OUTBOX=on`; anywhere else a missing provider is a configuration error.
 * Throws on any failure so the queue retries.
 *
 * Retries: the provider request carries an `Idempotency-Key` derived from the message (Resend keeps
 * such keys 24 h), so a retry after a lost response does not send twice; the outbox insert skips a
 * message that is already there. A provider without idempotency keys may deliver a retried email twice.
 */
export async function deliverEmail(config: EmailConfig, db: Database, message: EmailMessage): Promise<void> {
  const rendered = renderMessage(config, message);
  if (config.EMAIL_PROVIDER_URL) return sendToProvider(config, config.EMAIL_PROVIDER_URL, message, rendered);
  if (usesDevOutbox(config)) {
    // The outbox's data carries the link too, so a test or a developer can follow it without parsing the text.
    await insertOutboxEmail(db.http, message.to, rendered, { ...message.data, url: rendered.url });
    return;
  }
  throw new Error('Email delivery is not configured: set EMAIL_PROVIDER_URL and EMAIL_API_KEY.');
}

function renderMessage(config: EmailConfig, message: EmailMessage): RenderedEmail {
  switch (message.template) {
    case 'verify-email':
      return renderEmail(config, message.template, message.data);
    case 'reset-password':
      return renderEmail(config, message.template, message.data);
    case 'invitation':
      return renderEmail(config, message.template, message.data);
    case 'signup-attempt':
      return renderEmail(config, message.template, message.data);
    case 'webhook-disabled':
      return renderEmail(config, message.template, message.data);
    case 'notification':
      return renderEmail(config, message.template, message.data);
  }
}

async function sendToProvider(config: EmailConfig, url: string, message: EmailMessage, email: RenderedEmail): Promise<void> {
  if (!config.EMAIL_API_KEY) throw new Error('EMAIL_PROVIDER_URL is set but EMAIL_API_KEY is not.');
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${config.EMAIL_API_KEY}`,
      'content-type': 'application/json',
      'idempotency-key': await idempotencyKey(message),
    },
    body: JSON.stringify({ from: config.EMAIL_FROM, to: message.to, subject: email.subject, html: email.html, text: email.text }),
    signal: AbortSignal.timeout(PROVIDER_TIMEOUT_MS),
  });
  // The body may echo the recipient; it is not kept in the error (which is stored in job_failures).
  await response.body?.cancel();
  if (!response.ok) throw new Error(`Email provider answered HTTP ${response.status}.`);
}

/** The same message always gets the same key; different messages differ (their data holds a fresh token). */
function idempotencyKey(message: EmailMessage): Promise<string> {
  return sha256Hex(JSON.stringify([message.to, message.template, message.data]));
}
