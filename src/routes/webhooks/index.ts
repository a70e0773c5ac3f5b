import { createRouter } from '../router.ts';
import * as handlers from './webhooks.handlers.ts';
import * as routes from './webhooks.routes.ts';

/** Outbound webhooks: endpoints (secret shown once, rotatable), test events, the delivery log, redelivery and replay. */
export const webhookRoutes = createRouter()
  .openapi(routes.createEndpoint, handlers.createEndpointHandler)
  .openapi(routes.listEndpoints, handlers.listEndpointsHandler)
  .openapi(routes.getEndpoint, handlers.getEndpointHandler)
  .openapi(routes.updateEndpoint, handlers.updateEndpointHandler)
  .openapi(routes.deleteEndpoint, handlers.deleteEndpointHandler)
  .openapi(routes.rotateSecret, handlers.rotateSecretHandler)
  .openapi(routes.sendTestEvent, handlers.sendTestEventHandler)
  .openapi(routes.listDeliveries, handlers.listDeliveriesHandler)
  .openapi(routes.redeliver, handlers.redeliverHandler)
  .openapi(routes.replay, handlers.replayHandler);
