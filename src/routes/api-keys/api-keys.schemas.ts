import { z } from '@hono/zod-openapi';
import { cursorTimestamp, dateTimeField, gracePeriodField, idField, lineField, orgParams, pathId } from '../../lib/fields.ts';
import { PERMISSIONS, projectRolesFor, type Permission } from '../../lib/permissions.ts';

const permission = z.enum(PERMISSIONS as [Permission, ...Permission[]]);

/** The public shape of an API key: never the secret, nor its hash. */
export const apiKeySchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    prefix: z.string().openapi({ description: 'The first characters of the key, to recognise it.', example: 'sk_live_Ab12' }),
    scopes: z.array(permission),
    projectId: z.uuid().nullable().openapi({ description: 'Set when the key may act on one project only.' }),
    expiresAt: z.iso.datetime().nullable(),
    lastUsedAt: z.iso.datetime().nullable().openapi({ description: 'Recorded at most once a minute.' }),
    revokedAt: z.iso.datetime().nullable(),
    previousSecretExpiresAt: z.iso.datetime().nullable().openapi({
      description: 'After a rotation: when the previous secret stops working (the end of its grace period). Null when no previous secret works.',
    }),
    createdAt: z.iso.datetime(),
    createdBy: z.uuid().nullable().openapi({ description: 'The user who created it (null if an API key did, or the user is gone).' }),
  })
  .openapi('ApiKey');

export const apiKeyWithSecretSchema = apiKeySchema
  .extend({ key: z.string().openapi({ description: 'The secret key. Shown only in this response: store it now.' }) })
  .openapi('ApiKeyWithSecret');

export const apiKeyParams = orgParams.extend({ keyId: pathId('keyId') });

/** Cursor of the key list, newest first: (created at, exact to the microsecond; id). */
export const apiKeyCursor = z.tuple([cursorTimestamp, z.uuid()]);

export const createApiKeyBody = z
  .strictObject({
    name: lineField(100).openapi({ example: 'CI deploys' }),
    scopes: z
      .array(permission)
      .min(1)
      .transform((scopes) => [...new Set(scopes)])
      .openapi({
        description:
          'Permissions the key holds; each must be one your own role holds. With `projectId`, only project permissions and `projects:read`.',
        example: ['projects:read'],
      }),
    projectId: idField.optional().openapi({ description: 'Limit the key to this project of the org.' }),
    expiresAt: dateTimeField
      // NaN (not a date-time) already has its issue.
      .refine((value) => !(Date.parse(value) <= Date.now()), 'must be in the future')
      .optional()
      .openapi({ description: 'When the key stops working: a date-time in the future, before the year 10000.' }),
  })
  .superRefine(
    (body, ctx) => {
      // A project key can only act on its project, so org-only permissions would be dead weight; refuse them.
      if (!body.projectId) return;
      body.scopes.forEach((scope, index) => {
        if (scope !== 'projects:read' && projectRolesFor(scope).length === 0) {
          ctx.addIssue({ code: 'custom', path: ['scopes', index], message: `"${scope}" is not a project permission, so a project key cannot use it` });
        }
      });
    },
    { when: (payload) => payload.issues.length === 0 },
  )
  .openapi('CreateApiKey');

export const rotateApiKeyBody = z
  .strictObject({
    gracePeriodSeconds: gracePeriodField('the old key keeps working'),
  })
  .openapi('RotateApiKey');

type ApiKeyRow = {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  projectId: string | null;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
  previousExpiresAt: Date | null;
  createdAt: Date;
  createdBy: string | null;
};

/** Row → response: an explicit pick, so the hashes can never leak. `now`: the clock the grace is judged by. */
export function toApiKey(row: ApiKeyRow, now = new Date()): z.infer<typeof apiKeySchema> {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    scopes: row.scopes.filter((scope): scope is Permission => (PERMISSIONS as string[]).includes(scope)),
    projectId: row.projectId,
    expiresAt: row.expiresAt?.toISOString() ?? null,
    lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
    revokedAt: row.revokedAt?.toISOString() ?? null,
    previousSecretExpiresAt: row.previousExpiresAt && row.previousExpiresAt > now ? row.previousExpiresAt.toISOString() : null,
    createdAt: row.createdAt.toISOString(),
    createdBy: row.createdBy,
  };
}
