// What the app uses: the client and the message schemas. The class itself is exported only by src/index.ts.
export { orgAuthorityFor, type OrgAuthorityStub } from './org-authority.client.ts';
export { grantSnapshot, type AdmitRequest, type AdmitResult, type LimitRefusal, type LimitScope } from './org-authority.schemas.ts';
