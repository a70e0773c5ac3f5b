import type { Context } from 'hono';
import { createScopedDatabase, userActor, type ScopedDatabase, type UserActor } from '../../db/tenant.ts';
import type { AppEnv } from '../../env.ts';
import { requestMeta } from '../../middleware/auth.ts';


/**
 * The caller's user-level database: each batch starts with `app_enter_user`, which checks in the same
 * round trip that the session is live and the account active, so logout and deactivation act at once.
 */
export function userScope(c: Context<AppEnv>): { actor: UserActor; db: ScopedDatabase } {
  const actor = userActor(c.var.actor);
  return { actor, db: createScopedDatabase(c.var.db, actor, requestMeta(c), { kind: 'user' }) };
}
