import { createMemoryCache } from '../../cache/memory-cache.ts';
import type { Readiness } from '../../services/health.ts';
import { createRouter } from '../router.ts';
import { liveHandler, readyHandler } from './health.handlers.ts';
import { live, ready } from './health.routes.ts';

/** How long a readiness answer is reused. */
export const READINESS_TTL_MS = 5_000;

/**
 * Liveness and readiness. The readiness cache belongs to the app that mounts these routes (one per isolate
 * in production): an app built with other bindings, as tests do, never sees another app's answer.
 */
export function createHealthRoutes() {
  const readiness = createMemoryCache<'readiness', Readiness>({ name: 'readiness', max: 1, ttlMs: READINESS_TTL_MS });
  return createRouter().openapi(live, liveHandler).openapi(ready, readyHandler(readiness));
}
