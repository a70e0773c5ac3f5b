import { z } from 'zod';
import type { RouteClass } from '../../src/lib/limits.ts';
import type { LimitDecision } from '../../src/lib/sliding-log.ts';

/** Names the authority of one user: the user id (a uuid, lower-cased), so no two users ever share one. */
export const userAuthorityKey = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i)
  .transform((id) => id.toLowerCase());

/** What one request asks: is `sessionId` of this user known live, and is the request within the user's limit for its class (CALLER_RATE_LIMITS.user)? */
export interface UserAdmitRequest {
  sessionId: string;
  routeClass: RouteClass;
}

/**
 * The request was counted against the user's limit (`decision`; absent when its class has none) or refused by it
 * (`decision.allowed` false: nothing counted, and the session question is moot). `live`: the session is known live,
 * so the gate need not run in Postgres; otherwise the gate decides and, once it admits, the app hands the session's
 * end to `fill` with `sessionEpoch` (or, once it refuses, the session to `refuse`). `refused`: the gate has refused
 * this session before (nothing counted; the app answers 401 without Postgres). An authority of an earlier version,
 * met during a gradual deployment, never says `refused`.
 */
export interface UserAdmitResult {
  decision?: LimitDecision;
  live: boolean;
  refused?: true;
  sessionEpoch: string;
}
