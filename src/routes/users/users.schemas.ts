import { z } from '@hono/zod-openapi';
import { lineField, pathId } from '../../lib/fields.ts';
import type { ProfileRow, PublicProfileRow } from '../../services/accounts.ts';

/** A display name: one line, up to 100 characters, stored trimmed. */
export const nameField = lineField(100).openapi({ example: 'Ada Lovelace' });

/** The caller's own profile. Credentials and account state other than `emailVerified` are never part of it. */
export const profileSchema = z
  .object({
    id: z.uuid(),
    email: z.email(),
    name: z.string(),
    emailVerified: z.boolean(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .openapi('Profile');

/** What users who share an organization see of each other. */
export const publicUserSchema = z.object({ id: z.uuid(), email: z.email(), name: z.string() }).openapi('PublicUser');

export const userParams = z.object({ id: pathId('id') });

export const replaceUserBody = z.strictObject({ name: nameField }).openapi('ReplaceUser');
export const updateUserBody = z.strictObject({ name: nameField.optional() }).openapi('UpdateUser');

/** Row → response: an explicit pick, so a new column never leaks by accident. */
export function toProfile(row: ProfileRow): z.infer<typeof profileSchema> {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    emailVerified: row.emailVerifiedAt !== null,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

export function toPublicUser(row: PublicProfileRow): z.infer<typeof publicUserSchema> {
  return { id: row.id, email: row.email, name: row.name };
}
