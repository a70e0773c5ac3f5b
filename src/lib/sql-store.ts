/** A value SQLite in a Durable Object stores or returns. */
export type SqlValue = ArrayBuffer | string | number | null;

/**
 * The part of a Durable Object's synchronous `ctx.storage.sql` the limiters use. Declared here, by shape,
 * so src/lib stays free of runtime types (scripts run it under Node) while `ctx.storage.sql` fits as is.
 */
export interface SqlStore {
  exec<T extends Record<string, SqlValue>>(query: string, ...bindings: SqlValue[]): { toArray(): T[]; one(): T };
}
