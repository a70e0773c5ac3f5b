import { OpenAPIHono } from '@hono/zod-openapi';
import type { Result, Router } from 'hono/router';
import { TrieRouter } from 'hono/router/trie-router';
import { createMemoryCache, type MemoryCache } from '../cache/memory-cache.ts';
import type { AppEnv } from '../env.ts';
import { validationError } from '../lib/validation.ts';

/** Longest path whose match is remembered: longer ones are matched every time, so no client can fill the cache with big keys. */
const MAX_CACHED_PATH = 256;

/**
 * Hono's trie router behind a bounded cache of its answers, which depend on the method and path alone. Matching
 * a path against every route and its middleware is the largest single cost of a warm request (a CPU profile of
 * the warm project read put it at 40 % of the Worker's own JavaScript), and a client repeats its paths. Hono's
 * faster RegExpRouter refuses this route table (a literal segment beside a parameter: `/files/upload-url` next
 * to `/files/{fileId}`), so the trie router answers the misses. Hono only reads a match, never changes it.
 */
export class CachedRouter<T> implements Router<T> {
  readonly name = 'CachedRouter + TrieRouter';
  readonly #router = new TrieRouter<T>();
  // Made on the first match: only the app's root router ever matches (app.route() copies routes into it).
  #matches: MemoryCache<string, Result<T>> | undefined;

  add(method: string, path: string, handler: T): void {
    this.#router.add(method, path, handler);
  }

  match(method: string, path: string): Result<T> {
    if (path.length > MAX_CACHED_PATH) return this.#router.match(method, path);
    this.#matches ??= createMemoryCache({ name: 'route-matches', max: 2_000 });
    const key = `${method} ${path}`;
    let result = this.#matches.get(key);
    if (!result) {
      result = this.#router.match(method, path);
      this.#matches.set(key, result);
    }
    return result;
  }
}

/** A router whose validation failures throw into the one error envelope. Every route module uses it. */
export function createRouter(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    router: new CachedRouter(),
    defaultHook: (result) => {
      if (!result.success) throw validationError(result.error);
    },
  });
}
