import type { RouteHandler } from '@hono/zod-openapi';
import { ApiError } from '../../errors.ts';
import { selectProfile } from '../../services/accounts.ts';
import { selectApiKey } from '../../services/api-keys.ts';
import { selectOrg } from '../../services/organizations.ts';
import { toApiKey } from '../api-keys/api-keys.schemas.ts';
import { toProfile } from '../users/users.schemas.ts';
import type { whoami } from './whoami.routes.ts';

const gone = () => new ApiError('UNAUTHORIZED', 'This credential is no longer valid.');

/** One round trip: the caller's gate and the read of their own records, under RLS. */
export const whoamiHandler: RouteHandler<typeof whoami> = async (c) => {
  const actor = c.var.actor;
  if (actor.type === 'user') {
    const [[profile]] = await c.var.caller.batch((db) => [selectProfile(db, actor.id)]);
    if (!profile) throw gone();
    return c.json({ data: { type: 'user' as const, sessionId: actor.sessionId, user: toProfile(profile) } }, 200);
  }
  const [[key], [org]] = await c.var.caller.batch((db) => [selectApiKey(db, actor.id), selectOrg(db, actor.orgId)]);
  if (!key || !org) throw gone();
  return c.json({ data: { type: 'api_key' as const, org: { id: org.id, name: org.name, slug: org.slug }, key: toApiKey(key) } }, 200);
};
