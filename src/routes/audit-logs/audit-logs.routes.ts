import { dataEnvelope, jsonContent } from '../../lib/envelope.ts';
import { listEnvelope } from '../../lib/pagination.ts';
import { orgRoute } from '../route-kinds.ts';
import { orgParams } from '../../lib/fields.ts';
import { auditLogSchema, chainVerificationSchema, listAuditLogsQuery } from './audit-logs.schemas.ts';

const tags = ['Audit log'];

export const listAuditLogs = orgRoute('audit_logs:read', {
  method: 'get',
  path: '/orgs/{orgId}/audit-logs',
  tags,
  summary: 'List audit log entries',
  description: 'Newest first (by `seq`), cursor-paginated, filterable by action, actor and time.',
  request: { params: orgParams, query: listAuditLogsQuery },
  responses: { 200: jsonContent(listEnvelope(auditLogSchema), 'A page of entries.') },
});

export const verifyAuditLogs = orgRoute('audit_logs:read', {
  method: 'get',
  path: '/orgs/{orgId}/audit-logs/verify',
  tags,
  summary: "Verify the audit log's hash chain",
  description:
    'Recomputes every entry\'s hash from its content and checks the links and that `seq` has no gaps. ' +
    '`valid: false` names the first broken entry: an edited entry breaks at itself, a deleted one at the entry after it. ' +
    'Reads 1,000 entries per round trip.',
  request: { params: orgParams },
  responses: { 200: jsonContent(dataEnvelope(chainVerificationSchema), 'The verdict.') },
});
