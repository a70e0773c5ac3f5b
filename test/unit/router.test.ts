import { TrieRouter } from 'hono/router/trie-router';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.ts';
import { CachedRouter } from '../../src/routes/router.ts';

// Every route the app registers (middleware included), and a concrete path for each.
const { routes } = createApp();
const concrete = (path: string) => path.replace(/:(\w+)(\{[^}]*\})?/g, (_, name: string) => `${name}-${crypto.randomUUID()}`).replace(/\*$/, 'anything');
const requests = [
  ...routes.filter((route) => route.method !== 'ALL').map((route) => [route.method, concrete(route.path)] as const),
  ['GET', '/api/v1/no-such-route'],
  ['PATCH', '/api/health/live'],
  ['GET', '/'],
  ['GET', `/api/v1/orgs/${'x'.repeat(300)}/projects`],
] as const;

function routerWith<R extends { add(method: string, path: string, handler: unknown): void }>(router: R): R {
  for (const route of routes) router.add(route.method, route.path, [route.handler, route]);
  return router;
}

describe('the app’s router (src/routes/router.ts)', () => {
  it('is the cached one, on every app', () => {
    expect(createApp().router.name).toBe('CachedRouter + TrieRouter');
  });

  it('answers every path exactly as Hono’s trie router does, on a miss and from its cache', () => {
    const cached = routerWith(new CachedRouter());
    const trie = routerWith(new TrieRouter());
    expect(requests.length).toBeGreaterThan(100);
    for (const [method, path] of requests) {
      const expected = trie.match(method, path);
      expect(cached.match(method, path), `${method} ${path}`).toEqual(expected);
      expect(cached.match(method, path), `${method} ${path}, cached`).toEqual(expected);
    }
  });

  it('keeps answering right beyond its bound (2,000 paths), as entries are evicted', () => {
    const cached = routerWith(new CachedRouter());
    const trie = routerWith(new TrieRouter());
    const paths = Array.from({ length: 2_500 }, () => `/api/v1/orgs/${crypto.randomUUID()}/projects/${crypto.randomUUID()}`);
    for (const path of [...paths, ...paths.slice(0, 10)]) expect(cached.match('GET', path)).toEqual(trie.match('GET', path));
  });
});
