import { cors } from 'hono/cors';
import { methodNotAllowed } from 'hono/method-not-allowed';
import { secureHeaders } from 'hono/secure-headers';
import { createRouter } from './routes/router.ts';
import { appContext } from './middleware/context.ts';
import { handleError, handleMethodNotAllowed, handleNotFound } from './middleware/error-handler.ts';
import { requestId } from './middleware/request-id.ts';
import { requestLogger } from './middleware/request-logger.ts';
import { responsePolicy } from './middleware/response-policy.ts';
import { usageRecorder } from './middleware/usage.ts';
import { UsageRecorder } from './services/usage-recorder.ts';
import { mountDocs } from './routes/docs/index.ts';
import { createHealthRoutes } from './routes/health/index.ts';
import { adminRoutes } from './routes/admin/index.ts';
import { apiKeyRoutes } from './routes/api-keys/index.ts';
import { auditLogRoutes } from './routes/audit-logs/index.ts';
import { authRoutes } from './routes/auth/index.ts';
import { devRoutes } from './routes/dev/index.ts';
import { eventRoutes } from './routes/events/index.ts';
import { fileRoutes } from './routes/files/index.ts';
import { flagRoutes } from './routes/flags/index.ts';
import { invitationRoutes } from './routes/invitations/index.ts';
import { orgRoutes } from './routes/orgs/index.ts';
import { projectRoutes } from './routes/projects/index.ts';
import { roomRoutes } from './routes/rooms/index.ts';
import { userRoutes } from './routes/users/index.ts';
import { notificationRoutes } from './routes/notifications/index.ts';
import { webhookRoutes } from './routes/webhooks/index.ts';
import { wellKnownRoutes } from './routes/well-known/index.ts';
import { whoamiRoutes } from './routes/whoami/index.ts';

/**
 * Builds the Hono app: the whole request path, in order, on one screen. The app owns its buffer of API usage
 * events (one app per isolate for the Worker); tests may hand it one with other flush limits.
 */
export function createApp({ usage = new UsageRecorder() }: { usage?: UsageRecorder } = {}) {
  const app = createRouter();

  app.use(requestId());
  app.use(requestLogger());
  app.use(secureHeaders());
  app.use(responsePolicy());
  app.use(appContext());
  // The app's buffer of API usage events, which org routes add to (middleware/usage.ts).
  app.use(usageRecorder(usage));
  app.use('/api/*', cors({ origin: (origin, c) => (c.var.config.CORS_ORIGINS.includes(origin) ? origin : null), exposeHeaders: ['X-Request-Id', 'Retry-After', 'Idempotent-Replayed'], maxAge: 600, credentials: true }));
  app.use(methodNotAllowed({ app, onMethodNotAllowed: handleMethodNotAllowed }));

  app.route('/api/health', createHealthRoutes());
  app.route('/.well-known', wellKnownRoutes);
  app.route('/api/dev', devRoutes);
  for (const routes of [authRoutes, userRoutes, orgRoutes, invitationRoutes, projectRoutes, apiKeyRoutes, auditLogRoutes, adminRoutes, flagRoutes, roomRoutes, webhookRoutes, fileRoutes, whoamiRoutes, notificationRoutes, eventRoutes]) {
    app.route('/api/v1', routes);
  }
  mountDocs(app);

  app.notFound(handleNotFound);
  app.onError(handleError);
  return app;
}
