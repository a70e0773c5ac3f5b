/** The environments the app is deployed as (`APP_ENV`); flags can target them. */
export const APP_ENVS = ['development', 'test', 'staging', 'production'] as const;
export type AppEnvironment = (typeof APP_ENVS)[number];
