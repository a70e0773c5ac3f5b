import { createRouter } from '../router.ts';
import { liveHandler, readyHandler } from './health.handlers.ts';
import { live, ready } from './health.routes.ts';

export const healthRoutes = createRouter().openapi(live, liveHandler).openapi(ready, readyHandler);
