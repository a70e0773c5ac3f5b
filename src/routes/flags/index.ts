import { createRouter } from '../router.ts';
import { createFlagHandler, deleteFlagHandler, evaluateFlagsHandler, getFlagHandler, listFlagsHandler, updateFlagHandler } from './flags.handlers.ts';
import { createFlag, deleteFlag, evaluateFlags, getFlag, listFlags, updateFlag } from './flags.routes.ts';

/** Feature flags: every flag evaluated for the caller, and the platform admins' CRUD. */
export const flagRoutes = createRouter()
  .openapi(evaluateFlags, evaluateFlagsHandler)
  .openapi(listFlags, listFlagsHandler)
  .openapi(createFlag, createFlagHandler)
  .openapi(getFlag, getFlagHandler)
  .openapi(updateFlag, updateFlagHandler)
  .openapi(deleteFlag, deleteFlagHandler);
