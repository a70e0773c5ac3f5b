import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { REFRESH_COOKIE } from '../auth/token-delivery.ts';
import { registerWebhookEvents } from '../webhooks/webhooks.events.ts';

export const OPENAPI_PATH = '/api/openapi.json';

/** The reference UI, a static asset of this Worker (wrangler.toml [assets]; pinned @scalar/api-reference). */
export const DOCS_UI_PATH = '/api/docs/api-reference.js';

/**
 * The page loads nothing from another origin: the UI script and the document come from this Worker. The UI
 * injects its own <style> elements, hence 'unsafe-inline' for styles only; no inline or third-party script.
 */
export const DOCS_CSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

// The configuration rides on a non-executed element (no inline script, so the CSP needs no hash);
// withDefaultFonts off: the default fonts would come from a third-party host; the AI agent and the developer
// tools talk to Scalar's services.
const DOCS_CONFIG = JSON.stringify({ url: OPENAPI_PATH, withDefaultFonts: false, showDeveloperTools: 'never', agent: { disabled: true } }).replaceAll('"', '&quot;');
const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Edge SaaS API reference</title>
</head>
<body>
<script id="api-reference" type="application/json" data-configuration="${DOCS_CONFIG}"></script>
<script src="${DOCS_UI_PATH}"></script>
</body>
</html>
`;

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
  app.openAPIRegistry.registerComponent('securitySchemes', 'refreshCookie', {
    type: 'apiKey',
    in: 'cookie',
    name: REFRESH_COOKIE,
    description:
      'The refresh cookie of cookie mode (httpOnly, set by the server). Signs in only to `POST /auth/logout`, without a credential header, ' +
      'with `X-CSRF: 1` and an `Origin` that is the API\'s own or in `CORS_ORIGINS`.',
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
  app.get('/api/docs', (c) => {
    c.header('Content-Security-Policy', DOCS_CSP);
    return c.html(DOCS_PAGE);
  });
}
