import { createRouter } from '../router.ts';
import { getAdminOrgHandler, listAdminOrgsHandler, listPlatformAuditHandler, updateAdminOrgHandler } from './admin.handlers.ts';
import { getAdminOrg, listAdminOrgs, listPlatformAudit, updateAdminOrg } from './admin.routes.ts';
import { getAdminUsageHandler } from './usage.handlers.ts';
import { getAdminUsage } from './usage.routes.ts';

/** Platform administration of organizations (tiers, limit overrides) and the platform audit log. */
export const adminRoutes = createRouter()
  .openapi(listAdminOrgs, listAdminOrgsHandler)
  .openapi(getAdminOrg, getAdminOrgHandler)
  .openapi(updateAdminOrg, updateAdminOrgHandler)
  .openapi(listPlatformAudit, listPlatformAuditHandler)
  .openapi(getAdminUsage, getAdminUsageHandler);
