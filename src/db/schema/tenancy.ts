import { sql } from 'drizzle-orm';
import { bigint, check, index, jsonb, pgEnum, pgTable, primaryKey, text, timestamp, unique, uuid } from 'drizzle-orm/pg-core';
import { organizations, projects, timestamps, users } from './core.ts';

export const orgRole = pgEnum('org_role', ['owner', 'admin', 'member', 'viewer']);
export const projectRole = pgEnum('project_role', ['admin', 'editor', 'viewer']);

const orgId = () =>
  uuid('org_id')
    .notNull()
    .references(() => organizations.id, { onDelete: 'cascade' });

export const memberships = pgTable(
  'memberships',
  {
    orgId: orgId(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    role: orgRole('role').notNull(),
    ...timestamps,
  },
  (table) => [primaryKey({ columns: [table.orgId, table.userId] }), index('memberships_user_idx').on(table.userId)],
);

/** A project-scoped role that narrows or widens a member's org role on one project. */
export const projectMembers = pgTable(
  'project_members',
  {
    orgId: orgId(),
    projectId: uuid('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    role: projectRole('role').notNull(),
    ...timestamps,
  },
  (table) => [primaryKey({ columns: [table.projectId, table.userId] }), index('project_members_org_idx').on(table.orgId)],
);

export const invitations = pgTable(
  'invitations',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orgId: orgId(),
    email: text('email').notNull(),
    role: orgRole('role').notNull(),
    tokenHash: text('token_hash').notNull().unique(),
    invitedBy: uuid('invited_by').references(() => users.id, { onDelete: 'set null' }),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    acceptedAt: timestamp('accepted_at', { withTimezone: true }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    ...timestamps,
  },
  (table) => [index('invitations_org_idx').on(table.orgId, table.createdAt.desc())],
);

export const apiKeys = pgTable(
  'api_keys',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orgId: orgId(),
    projectId: uuid('project_id').references(() => projects.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    /** The recognisable start of the key (`sk_live_ab12…`), safe to show in lists. */
    prefix: text('prefix').notNull(),
    keyHash: text('key_hash').notNull().unique(),
    /** After a rotation the previous key keeps working until `previousExpiresAt`. */
    previousKeyHash: text('previous_key_hash').unique(),
    previousExpiresAt: timestamp('previous_expires_at', { withTimezone: true }),
    scopes: text('scopes').array().notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
    ...timestamps,
  },
  (table) => [index('api_keys_org_idx').on(table.orgId, table.createdAt.desc())],
);

/**
 * Append-only, hash-chained per org: `hash = sha256(prevHash || '\n' || canonical(entry))`.
 * Written only by the audit trigger (src/db/sql/audit.sql); the app role may only read.
 */
export const auditLogs = pgTable(
  'audit_logs',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    orgId: uuid('org_id').notNull(),
    seq: bigint('seq', { mode: 'number' }).notNull(),
    actorType: text('actor_type').notNull(),
    actorId: text('actor_id'),
    action: text('action').notNull(),
    targetType: text('target_type').notNull(),
    targetId: text('target_id'),
    ip: text('ip'),
    userAgent: text('user_agent'),
    requestId: text('request_id'),
    changes: jsonb('changes').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().default(sql`clock_timestamp()`),
    prevHash: text('prev_hash').notNull(),
    hash: text('hash').notNull(),
  },
  (table) => [
    unique('audit_logs_org_seq_key').on(table.orgId, table.seq),
    index('audit_logs_org_created_idx').on(table.orgId, table.createdAt.desc()),
    // Events (webhook payloads' `data.changes`, published as an object) and the fan-out's `changes @> match` read it as one.
    check('audit_logs_changes_object', sql`jsonb_typeof(${table.changes}) = 'object'`),
  ],
);

/** The newest link of each org's chain; its row lock serialises concurrent appends. */
export const auditChainHeads = pgTable('audit_chain_heads', {
  orgId: uuid('org_id').primaryKey(),
  seq: bigint('seq', { mode: 'number' }).notNull(),
  hash: text('hash').notNull(),
});
