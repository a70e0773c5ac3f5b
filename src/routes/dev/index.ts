import { desc, eq } from 'drizzle-orm';
import { devOutbox } from '../../db/schema/index.ts';
import { createRouter } from '../router.ts';
import { outbox } from './dev.routes.ts';

const OUTBOX_LIMIT = 50;

/** Development-only helpers (the email outbox); answer 404 outside development and test. */
export const devRoutes = createRouter().openapi(outbox, async (c) => {
  const { to } = c.req.valid('query');
  // dev_outbox is not a tenant table (no RLS), so the plain handle is the right one.
  const rows = await c.var.unscopedDb.http
    .select({ to: devOutbox.to, subject: devOutbox.subject, text: devOutbox.text, html: devOutbox.html, data: devOutbox.data })
    .from(devOutbox)
    .where(eq(devOutbox.to, to))
    .orderBy(desc(devOutbox.id))
    .limit(OUTBOX_LIMIT);
  c.header('Cache-Control', 'no-store');
  return c.json({ data: rows }, 200);
});
