import { createRouter } from '../../router.ts';
import { listProjectMembersHandler, removeProjectRoleHandler, setProjectRoleHandler } from './project-members.handlers.ts';
import { listProjectMembers, removeProjectRole, setProjectRole } from './project-members.routes.ts';

/** Per-project roles (mounted by the projects router). */
export const projectMemberRoutes = createRouter()
  .openapi(listProjectMembers, listProjectMembersHandler)
  .openapi(setProjectRole, setProjectRoleHandler)
  .openapi(removeProjectRole, removeProjectRoleHandler);
