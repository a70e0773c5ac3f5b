import { createRouter } from '../router.ts';
import { listAuditLogsHandler, verifyAuditLogsHandler } from './audit-logs.handlers.ts';
import { listAuditLogs, verifyAuditLogs } from './audit-logs.routes.ts';

/** The org's audit log and its hash-chain verification. */
export const auditLogRoutes = createRouter().openapi(listAuditLogs, listAuditLogsHandler).openapi(verifyAuditLogs, verifyAuditLogsHandler);
