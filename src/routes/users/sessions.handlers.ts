import type { RouteHandler } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { ApiError } from '../../errors.ts';
import { listSessions, revokeAllSessions, revokeSession } from '../../services/sessions.ts';
import type { listSessionsRoute, revokeAllSessionsRoute, revokeSessionRoute } from './sessions.routes.ts';
import { userScope } from './user-scope.ts';

/** One round trip each: the gate (which also proves the caller's own session is live) and the work. */
export const listSessionsHandler: RouteHandler<typeof listSessionsRoute, AppEnv> = async (c) => {
  const { actor, db } = userScope(c);
  const rows = await listSessions(db, actor.id);
  const data = rows.map((row) => ({
    id: row.id,
    userAgent: row.userAgent,
    ip: row.ip,
    createdAt: row.createdAt.toISOString(),
    lastUsedAt: row.lastUsedAt.toISOString(),
    current: row.id === actor.sessionId,
  }));
  return c.json({ data }, 200);
};

export const revokeSessionHandler: RouteHandler<typeof revokeSessionRoute, AppEnv> = async (c) => {
  const { sessionId } = c.req.valid('param');
  const { actor, db } = userScope(c);
  if (!(await revokeSession(db, actor.id, sessionId, 'revoked'))) throw new ApiError('NOT_FOUND', 'Session not found.');
  return c.body(null, 204);
};

export const revokeAllSessionsHandler: RouteHandler<typeof revokeAllSessionsRoute, AppEnv> = async (c) => {
  const { keepCurrent } = c.req.valid('query');
  const { actor, db } = userScope(c);
  await revokeAllSessions(db, actor.id, keepCurrent ? actor.sessionId : undefined);
  return c.body(null, 204);
};
