import { createRouter } from '../../lib/router.ts';

/** The caller's profile (/me), users by id, and the caller's sessions. */
export const userRoutes = createRouter();
