import { createRouter } from '../router.ts';
import { whoamiHandler } from './whoami.handlers.ts';
import { whoami } from './whoami.routes.ts';

/** GET /whoami: what a credential (API key or access token) is. */
export const whoamiRoutes = createRouter().openapi(whoami, whoamiHandler);
