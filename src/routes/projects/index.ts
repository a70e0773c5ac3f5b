import { createRouter } from '../router.ts';
import { projectMemberRoutes } from './members/index.ts';
import { createProjectHandler, deleteProjectHandler, getProjectHandler, replaceProjectHandler, updateProjectHandler } from './projects.handlers.ts';
import { listProjectsHandler } from './projects.list.ts';
import { createProject, deleteProject, getProject, listProjects, replaceProject, updateProject } from './projects.routes.ts';

/** Projects of an org, and each project's member roles. */
export const projectRoutes = createRouter()
  .openapi(listProjects, listProjectsHandler)
  .openapi(createProject, createProjectHandler)
  .openapi(getProject, getProjectHandler)
  .openapi(updateProject, updateProjectHandler)
  .openapi(replaceProject, replaceProjectHandler)
  .openapi(deleteProject, deleteProjectHandler)
  .route('/', projectMemberRoutes);
