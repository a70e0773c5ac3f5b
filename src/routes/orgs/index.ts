import { createRouter } from '../router.ts';
import { leaveOrgHandler, listMembersHandler, removeMemberHandler, updateMemberHandler } from './members.handlers.ts';
import { leaveOrg, listMembers, removeMember, updateMember } from './members.routes.ts';
import { createOrgHandler, deleteOrgHandler, getOrgHandler, listOrgsHandler, updateOrgHandler } from './orgs.handlers.ts';
import { createOrg, deleteOrg, getOrg, listOrgs, updateOrg } from './orgs.routes.ts';
import { getOrgUsageHandler } from './usage.handlers.ts';
import { getOrgUsage } from './usage.routes.ts';

/** Organizations and their memberships. */
export const orgRoutes = createRouter()
  .openapi(createOrg, createOrgHandler)
  .openapi(listOrgs, listOrgsHandler)
  .openapi(getOrg, getOrgHandler)
  .openapi(updateOrg, updateOrgHandler)
  .openapi(deleteOrg, deleteOrgHandler)
  .openapi(getOrgUsage, getOrgUsageHandler)
  .openapi(listMembers, listMembersHandler)
  .openapi(updateMember, updateMemberHandler)
  .openapi(removeMember, removeMemberHandler)
  .openapi(leaveOrg, leaveOrgHandler);
