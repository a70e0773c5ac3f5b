export * from './core.ts';
export * from './jobs.ts';
