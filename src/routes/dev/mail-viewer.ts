import { createRoute, z } from '@hono/zod-openapi';
import { ApiError } from '../../errors.ts';
import { unscoped } from '../../middleware/unscoped.ts';
import { selectOutboxHtml, selectOutboxIndex } from '../../services/dev-outbox.ts';
import { escapeHtml } from '../../services/email-templates.ts';
import { createRouter } from '../router.ts';
import { devOnly } from './dev.routes.ts';

// A page to read the dev outbox in a browser, with the same opt-in as GET /api/dev/outbox (DEV_OUTBOX=on,
// loopback callers only). Neither page runs a script: the list needs none, and a mail is shown as a sandboxed
// document (CSP `sandbox`), so even markup that slipped into a mail could not act on this origin.
export const MAIL_LIST_CSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
export const MAIL_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; sandbox";

const htmlResponse = (description: string) => ({ description, content: { 'text/html': { schema: z.string() } } });

const mailList = createRoute({
  method: 'get',
  path: '/mail',
  hide: true,
  middleware: [devOnly(), unscoped()] as const,
  responses: { 200: htmlResponse('The outbox as a page, newest first.') },
});

const mailPage = createRoute({
  method: 'get',
  path: '/mail/{id}',
  hide: true,
  middleware: [devOnly(), unscoped()] as const,
  request: { params: z.object({ id: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER) }) },
  responses: { 200: htmlResponse("One mail's HTML.") },
});

const linkOf = (data: unknown) => (data && typeof data === 'object' && 'url' in data && typeof data.url === 'string' ? data.url : undefined);

/** GET /api/dev/mail (the list) and /api/dev/mail/{id} (one mail). */
export const mailViewerRoutes = createRouter()
  .openapi(mailList, async (c) => {
    const mails = await selectOutboxIndex(c.var.unscopedDb.http);
    const rows = mails.map((mail) => {
      const link = linkOf(mail.data);
      const cells = [mail.createdAt.toISOString(), escapeHtml(mail.to), `<a href="mail/${mail.id}">${escapeHtml(mail.subject)}</a>`, link ? `<a href="${escapeHtml(link)}">${escapeHtml(link)}</a>` : ''];
      return `<tr>${cells.map((cell) => `<td>${cell}</td>`).join('')}</tr>`;
    });
    c.header('Content-Security-Policy', MAIL_LIST_CSP);
    return c.html(
      '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5"><title>Dev mail</title></head><body>\n' +
        `<h1>Dev mail</h1><p>${mails.length === 0 ? 'No mail yet.' : 'Newest first; this page reloads every 5 s.'} As JSON: <a href="outbox">/api/dev/outbox</a>.</p>\n` +
        `<table><thead><tr><th>sent</th><th>to</th><th>subject</th><th>link</th></tr></thead><tbody>\n${rows.join('\n')}\n</tbody></table>\n</body></html>\n`,
      200,
    );
  })
  .openapi(mailPage, async (c) => {
    const [mail] = await selectOutboxHtml(c.var.unscopedDb.http, c.req.valid('param').id);
    if (!mail) throw new ApiError('NOT_FOUND', 'No such mail in the outbox.');
    c.header('Content-Security-Policy', MAIL_CSP);
    return c.html(mail.html, 200);
  });
