import { createRouter } from '../router.ts';
import { createApiKeyHandler, listApiKeysHandler, revokeApiKeyHandler, rotateApiKeyHandler } from './api-keys.handlers.ts';
import { createApiKey, listApiKeys, revokeApiKey, rotateApiKey } from './api-keys.routes.ts';

/** Org API keys: create (shown once), list, rotate, revoke. */
export const apiKeyRoutes = createRouter()
  .openapi(createApiKey, createApiKeyHandler)
  .openapi(listApiKeys, listApiKeysHandler)
  .openapi(rotateApiKey, rotateApiKeyHandler)
  .openapi(revokeApiKey, revokeApiKeyHandler);
