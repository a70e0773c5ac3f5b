import { z } from '@hono/zod-openapi';
import { jsonContent } from '../../lib/envelope.ts';
import { publicRoute } from '../route-kinds.ts';

const jwkSchema = z.object({ kty: z.literal('OKP'), crv: z.literal('Ed25519'), x: z.string(), kid: z.string(), alg: z.literal('EdDSA'), use: z.literal('sig') });

/** RFC 7517 JSON Web Key Set: not wrapped in `{ data }`, since JWT libraries read it as is. */
export const jwksSchema = z.object({ keys: z.array(jwkSchema) }).openapi('JWKS');

export const jwks = publicRoute({
  method: 'get',
  path: '/jwks.json',
  tags: ['Auth'],
  summary: 'Public keys that verify access tokens',
  description: 'The current signing key and previous keys still inside their rotation window. Cacheable for five minutes.',
  responses: { 200: jsonContent(jwksSchema, 'The JSON Web Key Set.') },
});
