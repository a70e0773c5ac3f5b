import { z } from '@hono/zod-openapi';
import { dataEnvelope, jsonContent } from '../../lib/envelope.ts';
import { apiKeySchema } from '../api-keys/api-keys.schemas.ts';
import { callerRoute } from '../route-kinds.ts';
import { profileSchema } from '../users/users.schemas.ts';

const userIdentity = z
  .object({
    type: z.literal('user'),
    sessionId: z.uuid().openapi({ description: 'The session the access token belongs to (see GET /sessions).' }),
    user: profileSchema,
  })
  .openapi('UserIdentity');

const keyIdentity = z
  .object({
    type: z.literal('api_key'),
    org: z.object({ id: z.uuid(), name: z.string(), slug: z.string() }).openapi({ description: 'The organization the key acts for: its `id` goes in `/orgs/{orgId}/…`.' }),
    key: apiKeySchema.openapi({ description: 'The key itself: `scopes` it holds, `projectId` when limited to one project, `expiresAt`.' }),
  })
  .openapi('ApiKeyIdentity');

export const whoamiSchema = z.discriminatedUnion('type', [userIdentity, keyIdentity]).openapi('Identity');

export const whoami = callerRoute({
  method: 'get',
  path: '/whoami',
  tags: ['Users'],
  summary: 'Who the credential is',
  description:
    'For an API key: its organization, scopes, project limit and expiry (a CI job can ask what its key may do). ' +
    'For an access token: the user and the session. One round trip; a revoked or expired credential gets 401.',
  responses: { 200: jsonContent(dataEnvelope(whoamiSchema), 'The caller.') },
});
