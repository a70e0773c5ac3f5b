// Shared src/ code that scripts import (e.g. the seed hashing passwords) uses Workers' WebCrypto
// extension. Declared here for the Node typecheck only; Node never calls it at run time.
export {};

declare module 'crypto' {
  namespace webcrypto {
    interface SubtleCrypto {
      timingSafeEqual(a: ArrayBuffer | ArrayBufferView, b: ArrayBuffer | ArrayBufferView): boolean;
    }
  }
}

declare global {
  // The Worker's env (`wrangler types`, src/worker-configuration.d.ts), which src/config.ts names: scripts import
  // that file for its list of var names (npm run dev) and never call getConfig.
  type Env = Record<string, unknown>;
}
