import type { RouteHandler } from '@hono/zod-openapi';
import { checkReadiness } from '../../services/health.ts';
import type { live, ready } from './health.routes.ts';

export const liveHandler: RouteHandler<typeof live> = (c) => c.json({ data: { status: 'ok' as const } }, 200);

export const readyHandler: RouteHandler<typeof ready> = async (c) => {
  const readiness = await checkReadiness(c.env, c.var.unscopedDb);
  return readiness.status === 'ok' ? c.json({ data: readiness }, 200) : c.json({ data: readiness }, 503);
};
