import { createRouter } from '../../lib/router.ts';

/** GET /.well-known/jwks.json. */
export const wellKnownRoutes = createRouter();
