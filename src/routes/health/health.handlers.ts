import type { RouteHandler } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { checkReadiness } from '../../services/health.ts';
import type { live, ready } from './health.routes.ts';

export const liveHandler: RouteHandler<typeof live, AppEnv> = (c) => c.json({ data: { status: 'ok' as const } }, 200);

export const readyHandler: RouteHandler<typeof ready, AppEnv> = async (c) => {
  const readiness = await checkReadiness(c.env, c.var.db);
  c.header('Cache-Control', 'no-store');
  return readiness.status === 'ok' ? c.json({ data: readiness }, 200) : c.json({ data: readiness }, 503);
};
