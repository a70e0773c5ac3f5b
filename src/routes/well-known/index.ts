import { createRouter } from '../router.ts';
import { publicJwks } from '../../services/tokens.ts';
import { jwks, jwksSchema } from './well-known.routes.ts';

/** GET /.well-known/jwks.json. */
export const wellKnownRoutes = createRouter().openapi(jwks, (c) => {
  // Short cache: after a key rotation, verifiers pick up the new key within five minutes.
  c.header('Cache-Control', 'public, max-age=300');
  return c.json(jwksSchema.parse(publicJwks(c.var.config)), 200);
});
