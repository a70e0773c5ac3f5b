import type { OpenAPIHono } from '@hono/zod-openapi';
import { Scalar } from '@scalar/hono-api-reference';
import type { AppEnv } from '../../env.ts';
import { registerWebhookEvents } from '../webhooks/webhooks.events.ts';

export const OPENAPI_PATH = '/api/openapi.json';

/** Serves the OpenAPI 3.1 document generated from every route's schemas, and a reference page for it. */
export function mountDocs(app: OpenAPIHono<AppEnv>): void {
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description: 'An access token from /api/v1/auth/login; on organization routes also an API key (`sk_live_…`). User routes take access tokens only.',
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'apiKey', {
    type: 'apiKey',
    in: 'header',
    name: 'X-API-Key',
    description: 'An API key (`sk_…`) only. Sent together with a different credential in `Authorization`, the request is a 400.',
  });
  registerWebhookEvents(app);
  app.doc31(OPENAPI_PATH, (c) => ({
    openapi: '3.1.0',
    info: {
      title: 'Edge SaaS API',
      version: '1.0.0',
      description: 'Multi-tenant SaaS backend on Cloudflare Workers. Errors share one envelope: `{ error: { code, message, details?, requestId } }`.',
    },
    servers: [{ url: new URL(c.req.url).origin }],
  }));
  app.get('/api/docs', Scalar({ url: OPENAPI_PATH, pageTitle: 'Edge SaaS API reference' }));
}
