import type { OrgAuthority } from './org-authority.ts';
import { orgAuthorityKey } from './org-authority.schemas.ts';

/** The app's handle on one org's edge authority: a stub whose RPC methods are typed by the class. */
export type OrgAuthorityStub = DurableObjectStub<OrgAuthority>;

/** The edge authority of org `orgId` (a uuid; anything else throws). One object per org, wherever it is called from. */
export function orgAuthorityFor(env: Pick<Env, 'ORG_AUTHORITY'>, orgId: string): OrgAuthorityStub {
  return env.ORG_AUTHORITY.getByName(orgAuthorityKey.parse(orgId));
}
