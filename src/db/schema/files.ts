import { sql } from 'drizzle-orm';
import { bigint, index, jsonb, pgEnum, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { organizations, projects, timestamps } from './core.ts';

/** `pending`: bytes still on their way (a multipart upload, or a signed upload URL not yet used); its size is reserved. */
export const fileStatus = pgEnum('file_status', ['pending', 'ready']);

/** An uploaded part of a pending multipart upload, by part number. */
export type FileParts = Record<string, { etag: string; size: number }>;

/** A file's metadata; its bytes are the R2 object `orgs/<org_id>/files/<id>`. */
export const files = pgTable(
  'files',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orgId: uuid('org_id')
      .notNull()
      .references(() => organizations.id, { onDelete: 'cascade' }),
    projectId: uuid('project_id').references(() => projects.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    /** Bytes stored; while pending, the size reserved against the org's storage quota. */
    size: bigint('size', { mode: 'number' }).notNull(),
    contentType: text('content_type').notNull(),
    /** Hex SHA-256 of the bytes (null while pending). */
    sha256: text('sha256'),
    status: fileStatus('status').notNull(),
    /** The R2 multipart upload id of a pending multipart upload. */
    uploadId: text('upload_id'),
    parts: jsonb('parts').$type<FileParts>().notNull().default({}),
    uploaderType: text('uploader_type').notNull(),
    uploaderId: uuid('uploader_id'),
    /** When a pending upload is abandoned (its reservation and parts are then removed). */
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    ...timestamps,
    deletedAt: timestamp('deleted_at', { withTimezone: true }),
  },
  (table) => [
    index('files_org_created_idx').on(table.orgId, table.createdAt.desc(), table.id.desc()),
    index('files_pending_idx').on(table.expiresAt).where(sql`${table.status} = 'pending'`),
    index('files_deleted_idx').on(table.deletedAt).where(sql`${table.deletedAt} is not null`),
  ],
);
