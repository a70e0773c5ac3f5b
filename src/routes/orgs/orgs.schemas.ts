import { z } from '@hono/zod-openapi';
import { ORG_ROLES, type OrgRole } from '../../lib/permissions.ts';
import { SLUG_PATTERN } from '../../services/organizations.ts';
import { lineField } from '../../lib/fields.ts';
import { paginationQuery } from '../../lib/pagination.ts';

export const orgRoleSchema = z.enum(ORG_ROLES).openapi('OrgRole');

export const slugSchema = z
  .string()
  .min(3)
  .max(48)
  .regex(SLUG_PATTERN, 'lower-case letters, digits and hyphens; no leading, trailing or double hyphen')
  .openapi({ example: 'acme-inc' });

const nameSchema = lineField(100).openapi({ example: 'Acme Inc.' });

/** The public shape of an organization, with the caller's role in it. */
export const organizationSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    slug: z.string(),
    subscriptionTier: z.enum(['free', 'pro', 'enterprise']).openapi({ description: 'Set by billing; read-only here.' }),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
    // A union, not orgRoleSchema.nullable(): that would write null into the shared OrgRole component, which requests use too.
    role: z.union([orgRoleSchema, z.null()]).openapi({ description: 'The caller’s role in the organization; null for API keys.' }),
  })
  .openapi('Organization');

export type OrganizationResponse = z.infer<typeof organizationSchema>;

export const createOrgBody = z
  .strictObject({
    name: nameSchema,
    slug: slugSchema.optional().openapi({ description: 'Generated from the name when absent.' }),
  })
  .openapi('CreateOrganization');

/** Both fields optional: an empty body changes nothing and returns the organization. */
export const updateOrgBody = z.strictObject({ name: nameSchema.optional(), slug: slugSchema.optional() }).openapi('UpdateOrganization');

export const listOrgsQuery = paginationQuery;

/** Cursor of "my organizations": (name, id). */
export const orgCursor = z.tuple([z.string().max(100), z.uuid()]);

type OrganizationRow = {
  id: string;
  name: string;
  slug: string;
  subscriptionTier: 'free' | 'pro' | 'enterprise';
  createdAt: Date;
  updatedAt: Date;
};

/** Row → response: an explicit pick, so internal columns (deleted_at) never leak. */
export function toOrganization(row: OrganizationRow, role: string | null): OrganizationResponse {
  return {
    id: row.id,
    name: row.name,
    slug: row.slug,
    subscriptionTier: row.subscriptionTier,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    role: asOrgRole(role),
  };
}

/** The gate reports 'api_key' for keys; only real org roles go into responses. */
export function asOrgRole(role: string | null): OrgRole | null {
  return ORG_ROLES.find((candidate) => candidate === role) ?? null;
}
