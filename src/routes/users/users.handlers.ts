import type { RouteHandler } from '@hono/zod-openapi';
import { ApiError } from '../../errors.ts';
import { deactivateAccount, relationTo, selectProfile, updateProfile } from '../../services/accounts.ts';
import type { ScopedDatabase, UserActor } from '../../db/tenant.ts';
import type { deactivateUser, getMe, getUser, replaceUser, updateUser } from './users.routes.ts';
import { toProfile, toPublicUser } from './users.schemas.ts';
import { reportSessionsEnded } from '../../middleware/edge-changes.ts';
import { disconnectSockets } from '../../middleware/room-changes.ts';

const sessionEnded = () => new ApiError('UNAUTHORIZED', 'Your session is no longer valid. Sign in again.');

/** One round trip: the gate (live session, active account) and the read. */
export const getMeHandler: RouteHandler<typeof getMe> = async (c) => {
  const [[profile]] = await c.var.account.batch((db) => [selectProfile(db, c.var.actor.id)]);
  if (!profile) throw sessionEnded();
  return c.json({ data: toProfile(profile) }, 200);
};

/** One round trip (see `relationTo`). */
export const getUserHandler: RouteHandler<typeof getUser> = async (c) => {
  const { relation, profile } = await relationTo(c.var.account, c.req.valid('param').id);
  if (relation === 'none' || !profile) throw new ApiError('NOT_FOUND', 'User not found.');
  return c.json({ data: toPublicUser(profile) }, 200);
};

/** 403 for a user the caller can see, 404 for one they cannot: never reveals strangers. */
async function refuseOthers(account: ScopedDatabase<UserActor>, id: string): Promise<never> {
  const { relation } = await relationTo(account, id);
  if (relation === 'shared') throw new ApiError('FORBIDDEN', 'You can only change your own account.');
  throw new ApiError('NOT_FOUND', 'User not found.');
}

/** One round trip: the gate, the update (skipped when nothing changes) and the read of the profile. */
async function saveProfile(account: ScopedDatabase<UserActor>, changes: { name?: string }) {
  const profile = await updateProfile(account, changes);
  if (!profile) throw sessionEnded();
  return toProfile(profile);
}

export const replaceUserHandler: RouteHandler<typeof replaceUser> = async (c) => {
  const { id } = c.req.valid('param');
  if (id !== c.var.actor.id) return refuseOthers(c.var.account, id);
  const { name } = c.req.valid('json');
  return c.json({ data: await saveProfile(c.var.account, { name }) }, 200);
};

export const updateUserHandler: RouteHandler<typeof updateUser> = async (c) => {
  const { id } = c.req.valid('param');
  if (id !== c.var.actor.id) return refuseOthers(c.var.account, id);
  const body = c.req.valid('json');
  return c.json({ data: await saveProfile(c.var.account, body.name === undefined ? {} : { name: body.name }) }, 200);
};

export const deactivateUserHandler: RouteHandler<typeof deactivateUser> = async (c) => {
  const { id } = c.req.valid('param');
  if (id !== c.var.actor.id) return refuseOthers(c.var.account, id);
  const { orgIds } = await deactivateAccount(c.var.account);
  await reportSessionsEnded(c, id, orgIds);
  await disconnectSockets(c, orgIds, { userId: id }, 'revoked');
  return c.body(null, 204);
};
