import { createRouter } from '../../lib/router.ts';

/** Sign up, log in, refresh, log out, email verification, password reset. */
export const authRoutes = createRouter();
