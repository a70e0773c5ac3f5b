// The one Node.js API the Worker uses, enabled by the `nodejs_als` compatibility flag (wrangler.toml).
// Declared here because @types/node would bring every Node.js global into the Worker's types.
declare module 'node:async_hooks' {
  export class AsyncLocalStorage<T> {
    run<R>(store: T, callback: () => R): R;
    getStore(): T | undefined;
  }
}
