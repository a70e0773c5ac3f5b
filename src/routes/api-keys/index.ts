import { createRouter } from '../../lib/router.ts';

/** Org API keys: create (shown once), list, rotate, revoke. */
export const apiKeyRoutes = createRouter();
