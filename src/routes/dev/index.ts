import { createRouter } from '../../lib/router.ts';

/** Development-only helpers (the email outbox); answer 404 outside development and test. */
export const devRoutes = createRouter();
