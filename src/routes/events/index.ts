import { createRouter } from '../router.ts';
import { postEventsHandler } from './events.handlers.ts';
import { postEvents } from './events.routes.ts';

/** Product events clients send into the org's usage analytics. */
export const eventRoutes = createRouter().openapi(postEvents, postEventsHandler);
