// What the app uses: the client and the message types. The class itself is exported only by src/index.ts.
export { userAuthorityFor, type UserAuthorityStub } from './user-authority.client.ts';
export { userAuthorityKey, type UserAdmitRequest, type UserAdmitResult } from './user-authority.schemas.ts';
