import { selectOutbox } from '../../services/dev-outbox.ts';
import { createRouter } from '../router.ts';
import { outbox } from './dev.routes.ts';
import { mailViewerRoutes } from './mail-viewer.ts';

/** Development-only helpers (the email outbox and its mail viewer): 404 unless DEV_OUTBOX=on, and to loopback callers only. */
export const devRoutes = createRouter()
  .openapi(outbox, async (c) => {
    const { to } = c.req.valid('query');
    // dev_outbox is not a tenant table (no RLS), so the plain handle is the right one.
    const rows = await selectOutbox(c.var.unscopedDb.http, to);
    return c.json({ data: rows }, 200);
  })
  .route('/', mailViewerRoutes);
