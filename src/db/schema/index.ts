export * from './core.ts';
export * from './identity.ts';
export * from './jobs.ts';
export * from './tenancy.ts';
export * from './platform.ts';
export * from './idempotency.ts';
export * from './files.ts';
export * from './webhooks.ts';
