import type { Context } from 'hono';
import { createScopedDatabase, type Actor, type ScopedDatabase } from '../../db/tenant.ts';
import type { AppEnv } from '../../env.ts';
import { ApiError } from '../../errors.ts';
import { requestMeta } from '../../middleware/auth.ts';

export type UserActor = Extract<Actor, { type: 'user' }>;

/** The signed-in user of a `userRoute` (which refuses API keys before the handler runs). */
export function userActor(c: Context<AppEnv>): UserActor {
  const actor = c.var.actor;
  if (actor.type !== 'user') throw new ApiError('FORBIDDEN', 'API keys cannot be used here.');
  return actor;
}

/**
 * The caller's user-level database: each batch starts with `app_enter_user`, which checks in the same
 * round trip that the session is live and the account active, so logout and deactivation act at once.
 */
export function userScope(c: Context<AppEnv>): { actor: UserActor; db: ScopedDatabase } {
  const actor = userActor(c);
  return { actor, db: createScopedDatabase(c.var.db, actor, requestMeta(c), { kind: 'user' }) };
}
