// What `zod` means in the Worker bundle: wrangler.toml's [alias] (and vitest.config.ts, for the tests) point the
// bare specifier `zod` here, for our code and for @hono/zod-openapi alike. It is zod's own entry point
// (node_modules/zod/index.js) over ./classic.ts, which is zod's classic API without `locales`: every locale rides
// along with `z` otherwise (`export * as locales` in zod's classic and core entry points; a namespace that is
// handed around as a value, as `extendZodWithOpenApi(z)` does, keeps all its members), 38.6 KiB gzip. English
// messages are unaffected: zod installs them from locales/en.js itself. The modules behind these files are
// zod's own, so there is still one zod (one registry, one set of classes for instanceof) in the bundle.
// Code keeps importing from 'zod'; nothing imports these files directly. test/unit/zod-entry.test.ts checks
// that they export exactly what zod does, less `locales`.
import * as z from './classic.ts';

export * from './classic.ts';
export { z, z as default };
