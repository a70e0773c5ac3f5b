import type { RouteHandler } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { eq, sql } from 'drizzle-orm';
import { users } from '../../db/schema/index.ts';
import { userActor } from '../../db/tenant.ts';
import type { AppEnv } from '../../env.ts';
import { ApiError } from '../../errors.ts';
import { requestMeta } from '../../middleware/auth.ts';
import { deactivateAccount, relationTo, selectProfile } from '../../services/accounts.ts';
import { userScope } from './user-scope.ts';
import type { deactivateUser, getMe, getUser, replaceUser, updateUser } from './users.routes.ts';
import { toProfile, toPublicUser } from './users.schemas.ts';

/** One round trip: the gate (live session, active account) and the read. */
export const getMeHandler: RouteHandler<typeof getMe, AppEnv> = async (c) => {
  const { actor, db } = userScope(c);
  const [rows] = await db.batch((http) => [selectProfile(http, actor.id)]);
  const profile = rows[0];
  if (!profile) throw new ApiError('UNAUTHORIZED', 'Your session is no longer valid. Sign in again.');
  return c.json({ data: toProfile(profile) }, 200);
};

/** One round trip for yourself; two for anyone else (see `relationTo`). */
export const getUserHandler: RouteHandler<typeof getUser, AppEnv> = async (c) => {
  const { id } = c.req.valid('param');
  const actor = userActor(c.var.actor);
  const { relation, profile } = await relationTo(c.var.db, actor, requestMeta(c), id);
  if (relation === 'none' || !profile) throw new ApiError('NOT_FOUND', 'User not found.');
  return c.json({ data: toPublicUser(profile) }, 200);
};

/** 403 for a user the caller can see, 404 for one they cannot: never reveals strangers. */
async function refuseOthers(c: Context<AppEnv>, id: string): Promise<never> {
  const { relation } = await relationTo(c.var.db, userActor(c.var.actor), requestMeta(c), id);
  if (relation === 'shared') throw new ApiError('FORBIDDEN', 'You can only change your own account.');
  throw new ApiError('NOT_FOUND', 'User not found.');
}

/** One round trip: the gate, the update (skipped when nothing changes) and the read of the profile. */
async function saveProfile(c: Context<AppEnv>, changes: { name?: string }) {
  const { actor, db } = userScope(c);
  const rows =
    changes.name === undefined
      ? (await db.batch((http) => [selectProfile(http, actor.id)]))[0]
      : (await db.batch((http) => [http.update(users).set({ name: changes.name, updatedAt: sql`now()` }).where(eq(users.id, actor.id)), selectProfile(http, actor.id)]))[1];
  const profile = rows[0];
  if (!profile) throw new ApiError('UNAUTHORIZED', 'Your session is no longer valid. Sign in again.');
  return toProfile(profile);
}

export const replaceUserHandler: RouteHandler<typeof replaceUser, AppEnv> = async (c) => {
  const { id } = c.req.valid('param');
  if (id !== userActor(c.var.actor).id) return refuseOthers(c, id);
  const { name } = c.req.valid('json');
  return c.json({ data: await saveProfile(c, { name }) }, 200);
};

export const updateUserHandler: RouteHandler<typeof updateUser, AppEnv> = async (c) => {
  const { id } = c.req.valid('param');
  if (id !== userActor(c.var.actor).id) return refuseOthers(c, id);
  const body = c.req.valid('json');
  return c.json({ data: await saveProfile(c, body.name === undefined ? {} : { name: body.name }) }, 200);
};

export const deactivateUserHandler: RouteHandler<typeof deactivateUser, AppEnv> = async (c) => {
  const { id } = c.req.valid('param');
  const actor = userActor(c.var.actor);
  if (id !== actor.id) return refuseOthers(c, id);
  await deactivateAccount(c.var.db, actor, requestMeta(c));
  return c.body(null, 204);
};
