import type { MiddlewareHandler } from 'hono';
import type { KindEnv } from '../env.ts';
import { ApiError } from '../errors.ts';
import { describeError, log } from '../lib/log.ts';
import { redeemRoomTicket, roomAddressOf } from '../services/rooms.ts';
import { authenticate, type AuthVariables } from './auth.ts';

/**
 * Authenticates a WebSocket connect: a single-use ticket in `?ticket=` (from `POST …/tickets`; a browser's
 * `WebSocket` cannot send headers), redeemed at the room the path names — so a ticket for one room opens no
 * other — or else the usual credentials (`authenticate`). The ticket's caller is then gated like any other.
 */
export function authenticateSocket(): MiddlewareHandler<KindEnv<AuthVariables>> {
  const byHeaders = authenticate();
  return async function authenticateSocket(c, next) {
    const ticket = c.req.query('ticket');
    if (ticket === undefined) return byHeaders(c, next);
    if (c.req.header('authorization') !== undefined || c.req.header('x-api-key') !== undefined) {
      throw new ApiError('BAD_REQUEST', 'Send one credential: a ticket or Authorization, not both.');
    }
    const address = roomAddressOf(c.req.param());
    let actor;
    try {
      actor = address && (await redeemRoomTicket(c.env, address, ticket));
    } catch (error) {
      log('error', 'room ticket not redeemed: room unreachable', { error: describeError(error) });
      throw new ApiError('SERVICE_UNAVAILABLE', 'The room is briefly unavailable; ask for a new ticket and retry.', undefined, { 'Retry-After': '1' });
    }
    if (!actor) throw new ApiError('UNAUTHORIZED', 'The ticket is invalid, expired or already used.');
    c.set('actor', actor);
    await next();
  };
}
