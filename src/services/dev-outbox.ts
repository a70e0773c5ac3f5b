import { desc, eq, sql } from 'drizzle-orm';
import type { HttpDatabase } from '../db/client.ts';
import { devOutbox } from '../db/schema/index.ts';
import type { RenderedEmail } from './email-templates.ts';

// The dev outbox: where emails land in development and test when no provider is configured. It is not a
// tenant table (no RLS), so these builders take the plain handle.

/** How many emails the outbox route returns at most. */
export const OUTBOX_LIMIT = 50;

/**
 * Stores an email sent to `to`, with its template variables `data`, unless the same message is already
 * there (a queue retry after a lost acknowledgement must not store it twice).
 */
export function insertOutboxEmail(db: HttpDatabase, to: string, email: RenderedEmail, data: unknown) {
  const json = JSON.stringify(data);
  return db.execute(sql`
    insert into dev_outbox ("to", subject, text, html, data)
    select ${to}, ${email.subject}, ${email.text}, ${email.html}, ${json}::jsonb
    where not exists (select 1 from dev_outbox o where o."to" = ${to} and o.subject = ${email.subject} and o.data = ${json}::jsonb)
  `);
}

/** The emails sent to `to` (to anyone without it), newest first (at most OUTBOX_LIMIT). */
export function selectOutbox(db: HttpDatabase, to?: string) {
  return db
    .select({ to: devOutbox.to, subject: devOutbox.subject, text: devOutbox.text, html: devOutbox.html, data: devOutbox.data })
    .from(devOutbox)
    .where(to === undefined ? undefined : eq(devOutbox.to, to))
    .orderBy(desc(devOutbox.id))
    .limit(OUTBOX_LIMIT);
}

/** The mail viewer's list (routes/dev/mail-viewer.ts): what each email is, newest first, without its bodies. */
export function selectOutboxIndex(db: HttpDatabase) {
  return db
    .select({ id: devOutbox.id, to: devOutbox.to, subject: devOutbox.subject, data: devOutbox.data, createdAt: devOutbox.createdAt })
    .from(devOutbox)
    .orderBy(desc(devOutbox.id))
    .limit(OUTBOX_LIMIT);
}

/** One email's HTML, for the mail viewer. */
export function selectOutboxHtml(db: HttpDatabase, id: number) {
  return db.select({ html: devOutbox.html }).from(devOutbox).where(eq(devOutbox.id, id));
}
