import type { UserAuthority } from './user-authority.ts';
import { userAuthorityKey } from './user-authority.schemas.ts';

/** The app's handle on one user's edge authority: a stub whose RPC methods are typed by the class. */
export type UserAuthorityStub = DurableObjectStub<UserAuthority>;

/** The edge authority of user `userId` (a uuid; anything else throws). One object per user, wherever it is called from. */
export function userAuthorityFor(env: Pick<Env, 'USER_AUTHORITY'>, userId: string): UserAuthorityStub {
  return env.USER_AUTHORITY.getByName(userAuthorityKey.parse(userId));
}
