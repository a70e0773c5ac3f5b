import { createRouter } from '../../lib/router.ts';
import { getProjectHandler } from './projects.handlers.ts';
import { getProject } from './projects.routes.ts';

export const projectRoutes = createRouter().openapi(getProject, getProjectHandler);
