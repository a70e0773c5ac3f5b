import { createRouter } from '../../lib/router.ts';

/** The org's audit log and its hash-chain verification. */
export const auditLogRoutes = createRouter();
