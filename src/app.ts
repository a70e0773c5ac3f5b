import { cors } from 'hono/cors';
import { methodNotAllowed } from 'hono/method-not-allowed';
import { requestId } from 'hono/request-id';
import { secureHeaders } from 'hono/secure-headers';
import { createRouter } from './lib/router.ts';
import { appContext } from './middleware/context.ts';
import { handleError, handleMethodNotAllowed, handleNotFound } from './middleware/error-handler.ts';
import { limitBody, requireJsonBody } from './middleware/json-body.ts';
import { requestLogger } from './middleware/request-logger.ts';
import { mountDocs } from './routes/docs/index.ts';
import { healthRoutes } from './routes/health/index.ts';

/** Builds the Hono app: the whole request path, in order, on one screen. */
export function createApp() {
  const app = createRouter();

  app.use(requestId({ headerName: 'X-Request-Id', limitLength: 128 }));
  app.use(requestLogger());
  app.use(secureHeaders());
  app.use(appContext());
  app.use('/api/*', cors({ origin: (origin, c) => (c.var.config.CORS_ORIGINS.includes(origin) ? origin : null), exposeHeaders: ['X-Request-Id'], maxAge: 600 }));
  app.use(methodNotAllowed({ app, onMethodNotAllowed: handleMethodNotAllowed }));
  app.use('/api/v1/*', limitBody(), requireJsonBody());

  app.route('/api/health', healthRoutes);
  mountDocs(app);

  app.notFound(handleNotFound);
  app.onError(handleError);
  return app;
}
