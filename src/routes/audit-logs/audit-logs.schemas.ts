import { z } from '@hono/zod-openapi';
import { instantField, lineField } from '../../lib/fields.ts';
import { paginationQuery } from '../../lib/pagination.ts';

/** One audit entry, with the links of its hash chain. */
export const auditLogSchema = z
  .object({
    id: z.number().int(),
    seq: z.number().int().openapi({ description: 'Position in the org\'s chain, contiguous from 1.' }),
    actorType: z.string().openapi({ example: 'user', description: '`user`, `api_key` or `system`.' }),
    actorId: z.string().nullable(),
    action: z.string().openapi({
      example: 'project.updated',
      description: '`<targetType>.<verb>`: a row created, updated, deleted, revoked, accepted or rotated; or an act that changes no row: `file.url_signed` (a download URL signed).',
    }),
    targetType: z.string().openapi({ example: 'project' }),
    targetId: z.string().nullable(),
    ip: z.string().nullable(),
    userAgent: z.string().nullable(),
    requestId: z.string().nullable(),
    changes: z.record(z.string(), z.unknown()).openapi({
      description:
        'Created/deleted: the fields. Updated: `{ field: { from, to } }` for fields that changed. Fields are named as in the API (camelCase, e.g. `previousExpiresAt`). Emails masked, secrets never included. `file.url_signed`: `{ expiresAt, disposition }`.',
    }),
    createdAt: z.iso.datetime(),
    hash: z.string(),
    prevHash: z.string(),
  })
  .openapi('AuditLogEntry');

export const chainVerificationSchema = z
  .object({
    valid: z.boolean(),
    entries: z.number().int().openapi({ description: 'Entries checked (when broken: up to and including the first broken one).' }),
    firstBrokenId: z.number().int().optional().openapi({ description: 'The first entry whose link does not verify.' }),
  })
  .openapi('AuditChainVerification');

const filterText = lineField(100);

export const listAuditLogsQuery = paginationQuery.extend({
  action: filterText.optional().openapi({ param: { name: 'action', in: 'query' }, example: 'project.updated' }),
  actorId: filterText.optional().openapi({ param: { name: 'actorId', in: 'query' }, description: 'A user id or API key id.' }),
  from: instantField.optional().openapi({ param: { name: 'from', in: 'query' }, description: 'ISO date or date-time, years 0001–9999 (UTC); inclusive.' }),
  to: instantField.optional().openapi({ param: { name: 'to', in: 'query' }, description: 'ISO date or date-time, years 0001–9999 (UTC); exclusive.' }),
});

type AuditRow = {
  id: number;
  seq: number;
  actorType: string;
  actorId: string | null;
  action: string;
  targetType: string;
  targetId: string | null;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
  changes: unknown;
  createdAt: Date;
  hash: string;
  prevHash: string;
};

/** A column name as the API spells fields: `previous_expires_at` → `previousExpiresAt`. */
const camelCase = (name: string) => name.replace(/_([a-z0-9])/g, (_, letter: string) => letter.toUpperCase());

/**
 * Row → response: an explicit pick (org_id is implied by the path). The trigger records column names, and
 * the entry's hash covers them as stored; the API names the fields of `changes` as it names them everywhere.
 */
export function toAuditLog(row: AuditRow): z.infer<typeof auditLogSchema> {
  const stored = typeof row.changes === 'object' && row.changes !== null && !Array.isArray(row.changes) ? (row.changes as Record<string, unknown>) : {};
  const changes = Object.fromEntries(Object.entries(stored).map(([field, value]) => [camelCase(field), value]));
  return {
    id: row.id,
    seq: row.seq,
    actorType: row.actorType,
    actorId: row.actorId,
    action: row.action,
    targetType: row.targetType,
    targetId: row.targetId,
    ip: row.ip,
    userAgent: row.userAgent,
    requestId: row.requestId,
    changes,
    createdAt: row.createdAt.toISOString(),
    hash: row.hash,
    prevHash: row.prevHash,
  };
}
