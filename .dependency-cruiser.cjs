// The floors of the codebase (STYLE.md, README "Floors"), checked by `npm run lint`:
//
//   src/index.ts → src/app.ts → src/routes/ → src/middleware/ → src/services/ → src/db/, src/cache/
//     → src/lib/ → src/errors.ts
//
// Imports run down, never up, never round. Each floor below lists what it MAY import (an allow-list, so a new
// folder or a sideways import is caught too); npm packages and runtime built-ins are free unless a rule says
// otherwise. Type-only imports count like any other (tsPreCompilationDeps): a type still ties one floor to
// another, and the issue that set these floors named one (`src/lib/router.ts` importing the Hono env type).

/** Local files, as dependency-cruiser names them (npm packages resolve under node_modules/). */
const LOCAL = ['local'];

/**
 * The runtime's virtual modules. Neither node nor TypeScript's resolver knows them, so they are declared
 * built-in here; an unknown `cloudflare:` import still fails `not-to-unresolvable`, and the fix is to add it.
 */
const CLOUDFLARE_MODULES = ['cloudflare:workers', 'cloudflare:sockets', 'cloudflare:email', 'cloudflare:workflows', 'cloudflare:test'];

/** A Durable Object folder's public face: its client and schemas, never the class file. */
const DO_CLIENT = '^durable-objects/[^/]+/index\\.ts$';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    // ── Everywhere ────────────────────────────────────────────────────────────────────────────────────────
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'A cycle makes two modules one: neither can be understood, tested or moved without the other, and the ' +
        'order in which Workers evaluates them decides what is undefined at import time. Type-only cycles count ' +
        'too; move the shared type down a floor (e.g. into a small types.ts next to its users).',
      from: {},
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment:
        'An import the resolver cannot find is a typo, a missing dependency, or a runtime virtual module this ' +
        'file does not know yet (add it to CLOUDFLARE_MODULES).',
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: 'no-entry-imports',
      severity: 'error',
      comment:
        'src/index.ts is the top floor: it wires the Worker (fetch, queue, scheduled, the Durable Object ' +
        'classes). Importing it pulls in the whole app and every consumer; import the module you need instead. ' +
        "The one exception is the benchmark's entry, which serves that very Worker next to its baseline route.",
      from: { pathNot: '^scripts/bench-worker\\.ts$' },
      to: { path: '^src/index\\.ts$' },
    },

    // ── The floors of src/, top to bottom ────────────────────────────────────────────────────────────────
    {
      name: 'app-not-to-entry-or-workers',
      severity: 'error',
      comment:
        'src/app.ts builds the HTTP app only. The queue and cron consumers (workers/) are wired next to it by ' +
        'src/index.ts, so the app stays testable through fetch without them.',
      from: { path: '^src/app\\.ts$' },
      to: { dependencyTypes: LOCAL, pathNot: ['^src/(routes|middleware|services|db|cache|lib)/', '^src/(errors|config|env)\\.ts$', DO_CLIENT] },
    },
    {
      name: 'routes-only-down',
      severity: 'error',
      comment:
        'A route (contract + handlers + wiring) may use everything below it, never the app that mounts it or the ' +
        'entry. Durable Objects only through their folder client (durable-objects/<name>/index.ts).',
      from: { path: '^src/routes/' },
      to: { dependencyTypes: LOCAL, pathNot: ['^src/(routes|middleware|services|db|cache|lib)/', '^src/(errors|config|env)\\.ts$', DO_CLIENT] },
    },
    {
      name: 'middleware-only-down',
      severity: 'error',
      comment:
        'Middleware is composed by routes (route kinds) and the app; it must not know either, or a route kind ' +
        'and its routes become one knot.',
      from: { path: '^src/middleware/' },
      to: { dependencyTypes: LOCAL, pathNot: ['^src/(middleware|services|db|cache|lib)/', '^src/(errors|config|env)\\.ts$', DO_CLIENT] },
    },
    {
      name: 'services-only-down',
      severity: 'error',
      comment:
        'Services are shared by routes, jobs, cron, the console and exports, so they cannot know HTTP: no ' +
        'middleware, routes, app or Hono env (src/env.ts). They take a scoped handle and plain values. Job ' +
        'contracts live here; the consumer (workers/) imports them, never the other way round.',
      from: { path: '^src/services/' },
      to: { dependencyTypes: LOCAL, pathNot: ['^src/(services|db|cache|lib)/', '^src/(errors|config)\\.ts$', DO_CLIENT] },
    },
    {
      name: 'db-only-down',
      severity: 'error',
      comment:
        'The database layer (client, tenant scoping, schema) sits below every caller: it may use the cache (same ' +
        'floor; src/db/client.ts keeps its clients there), lib, errors and the Config type, nothing above.',
      from: { path: '^src/db/' },
      to: { dependencyTypes: LOCAL, pathNot: ['^src/(db|cache|lib)/', '^src/(errors|config)\\.ts$'] },
    },
    {
      name: 'cache-only-down',
      severity: 'error',
      comment:
        'The cache is a floor under services and beside db; db may use it, so it must not use db (that would be ' +
        'a cycle across the floor). It may use lib, errors and the Config type.',
      from: { path: '^src/cache/' },
      to: { dependencyTypes: LOCAL, pathNot: ['^src/(cache|lib)/', '^src/(errors|config)\\.ts$'] },
    },
    {
      name: 'database-through-the-route-kind',
      severity: 'error',
      comment:
        'Handlers and services get their database from the route kind (a gated tenant/account/platform handle, or ' +
        'unscopedDb on public routes), never by building one: only the kinds\' middleware and the queue and cron ' +
        'entries may create a handle or a scoped handle. Types may be imported anywhere.',
      from: { path: '^src/(routes|services)/' },
      to: { path: ['^src/middleware/database\\.ts$', '^src/db/(client|tenant)\\.ts$'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'config-is-handed-down',
      severity: 'error',
      comment:
        'Config and secrets are parsed once at the boundary (the context middleware, the queue and cron entries) ' +
        'and handed down as a value. Below middleware only the Config type may be imported (`import type`), so ' +
        'a service or the db layer never reads bindings on its own.',
      from: { path: '^src/(services|db|cache)/' },
      to: { path: '^src/config\\.ts$', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'lib-is-pure',
      severity: 'error',
      comment:
        'src/lib holds pure helpers with no bindings, usable from every floor, Durable Objects and scripts. It ' +
        'may import only other lib modules and src/errors.ts; anything more would drag a floor above into all ' +
        'of them (the old src/lib/router.ts importing AppEnv did exactly that). zod is a package, not a floor: ' +
        'src/lib/zod-entry/ names its modules by path (zod exports no such subpaths), which reads as local.',
      from: { path: '^src/lib/' },
      to: { dependencyTypes: LOCAL, pathNot: ['^src/lib/', '^src/errors\\.ts$', '^node_modules/zod/'] },
    },
    {
      name: 'errors-is-the-floor',
      severity: 'error',
      comment: 'src/errors.ts (ApiError, the envelope) is imported by everything, so it imports no local module.',
      from: { path: '^src/errors\\.ts$' },
      to: { dependencyTypes: LOCAL },
    },
    {
      name: 'config-is-a-leaf',
      severity: 'error',
      comment:
        'src/config.ts parses configuration and secrets; every floor from db up and workers/ read its type. It ' +
        'may lean on lib (and errors through it) but never on db, services or the app, or the config cycle the ' +
        'issue removed (env ↔ db/client ↔ db/tenant) comes back.',
      from: { path: '^src/config\\.ts$' },
      to: { dependencyTypes: LOCAL, pathNot: ['^src/lib/', '^src/errors\\.ts$'] },
    },
    {
      name: 'env-is-types-of-config-only',
      severity: 'error',
      comment:
        'src/env.ts is the Hono env (bindings + per-request variables): types only, built on the Config type. ' +
        'What a route kind adds to it is declared by that kind, so env.ts itself knows no database or service.',
      from: { path: '^src/env\\.ts$' },
      to: { dependencyTypes: LOCAL, pathNot: '^src/config\\.ts$' },
    },
    {
      name: 'env-only-for-http',
      severity: 'error',
      comment:
        'The Hono env type belongs to the HTTP floors (middleware, routes, app). Below them, and in workers/ ' +
        'and durable-objects/, there is no Hono context: take the values you need as arguments.',
      from: { pathNot: ['^src/(middleware|routes)/', '^src/(app|index)\\.ts$', '^test/'] },
      to: { path: '^src/env\\.ts$' },
    },

    // ── src ↔ workers ↔ durable-objects ───────────────────────────────────────────────────────────────────
    {
      name: 'src-to-workers-only-from-entry',
      severity: 'error',
      comment:
        'workers/ (queue consumer, cron) builds on src/; src/ reaches it only where the Worker is wired ' +
        '(src/index.ts). A producer enqueues through src/services/jobs.ts, whose contracts the consumer imports.',
      from: { path: '^src/', pathNot: '^src/index\\.ts$' },
      to: { path: '^workers/' },
    },
    {
      name: 'workers-not-to-http',
      severity: 'error',
      comment:
        'Jobs and cron tasks run without a request: they use services, db, cache, lib, config, never the HTTP ' +
        'layers (app, routes, middleware, the Hono env) nor the entry.',
      from: { path: '^workers/' },
      to: { dependencyTypes: LOCAL, pathNot: ['^workers/', '^src/(services|db|cache|lib)/', '^src/(errors|config)\\.ts$', DO_CLIENT] },
    },
    {
      name: 'do-client-not-class',
      severity: 'error',
      comment:
        'The app talks to a Durable Object through its folder client (rateLimiterFor, roomFor in ' +
        'durable-objects/<name>/index.ts), so the RPC surface is typed in one place. Only src/index.ts imports the ' +
        'classes, to export them to the runtime.',
      from: { path: '^(src|workers)/', pathNot: '^src/index\\.ts$' },
      to: { path: '^durable-objects/', pathNot: DO_CLIENT },
    },
    {
      name: 'durable-objects-only-lib',
      severity: 'error',
      comment:
        'A Durable Object runs in its own isolate with its own storage; it may use its own folder and the pure ' +
        'helpers of src/lib, nothing of the app (no db, services, config), so it can move or be deployed alone.',
      from: { path: '^durable-objects/([^/]+)/' },
      to: { dependencyTypes: LOCAL, pathNot: ['^durable-objects/$1/', '^src/lib/'] },
    },
    {
      name: 'durable-objects-few-packages',
      severity: 'error',
      comment:
        'Durable Objects depend on zod (message schemas) and cloudflare:workers only; every other package adds ' +
        'to every object and belongs behind a src/lib helper, if anywhere.',
      from: { path: '^durable-objects/' },
      to: { dependencyTypesNot: ['local', 'core'], pathNot: '^node_modules/zod/' },
    },

    // ── Tooling and tests ────────────────────────────────────────────────────────────────────────────────
    {
      name: 'scripts-only-from-scripts-and-tests',
      severity: 'error',
      comment:
        'scripts/ is Node developer tooling (local Postgres, proxy, seeding); it does not run in workerd. Only ' +
        'other scripts and the tests (global setup, e2e) may import it.',
      from: { pathNot: '^(scripts|test)/' },
      to: { path: '^scripts/' },
    },
    {
      name: 'no-test-in-production',
      severity: 'error',
      comment: 'Test helpers (factories, fakes) must never ship in the Worker.',
      from: { path: '^(src|workers|durable-objects)/' },
      to: { path: '^test/' },
    },
  ],
  options: {
    // Generated by `wrangler types`; its `typeof import("./index")` only names the entry's exports for `Env`.
    exclude: { path: '^src/worker-configuration\\.d\\.ts$' },
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    builtInModules: { add: CLOUDFLARE_MODULES },
    enhancedResolveOptions: {
      // The repo imports with explicit .ts extensions (allowImportingTsExtensions); packages through "exports".
      extensions: ['.ts', '.d.ts', '.js', '.json'],
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
  },
};
