import { createRouter } from '../../lib/router.ts';

/** Organizations and their memberships. */
export const orgRoutes = createRouter();
