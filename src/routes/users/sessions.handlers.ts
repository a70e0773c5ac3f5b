import type { RouteHandler } from '@hono/zod-openapi';
import { ApiError } from '../../errors.ts';
import { listSessions, revokeAllSessions, revokeSession } from '../../services/sessions.ts';
import type { listSessionsRoute, revokeAllSessionsRoute, revokeSessionRoute } from './sessions.routes.ts';
import { reportSessionsEnded } from '../../middleware/edge-changes.ts';
import { disconnectSockets } from '../../middleware/room-changes.ts';

/** One round trip each: the gate (which also proves the caller's own session is live) and the work. */
export const listSessionsHandler: RouteHandler<typeof listSessionsRoute> = async (c) => {
  const rows = await listSessions(c.var.account);
  const data = rows.map((row) => ({
    id: row.id,
    userAgent: row.userAgent,
    ip: row.ip,
    createdAt: row.createdAt.toISOString(),
    lastUsedAt: row.lastUsedAt.toISOString(),
    current: row.id === c.var.actor.sessionId,
  }));
  return c.json({ data }, 200);
};

export const revokeSessionHandler: RouteHandler<typeof revokeSessionRoute> = async (c) => {
  const { sessionId } = c.req.valid('param');
  const { count, orgIds } = await revokeSession(c.var.account, sessionId, 'revoked');
  if (count === 0) throw new ApiError('NOT_FOUND', 'Session not found.');
  await reportSessionsEnded(c, c.var.actor.id, orgIds);
  await disconnectSockets(c, orgIds, { sessionId }, 'revoked');
  return c.body(null, 204);
};

export const revokeAllSessionsHandler: RouteHandler<typeof revokeAllSessionsRoute> = async (c) => {
  const { keepCurrent } = c.req.valid('query');
  const { orgIds } = await revokeAllSessions(c.var.account, keepCurrent ? c.var.actor.sessionId : undefined);
  await reportSessionsEnded(c, c.var.actor.id, orgIds);
  await disconnectSockets(c, orgIds, { userId: c.var.actor.id, exceptSessionId: keepCurrent ? c.var.actor.sessionId : undefined }, 'revoked');
  return c.body(null, 204);
};
