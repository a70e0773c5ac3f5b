import { AsyncLocalStorage } from 'node:async_hooks';
import { redact, scrubText } from './mask.ts';

/** The request a piece of work runs for, wherever it is in the call tree (including its `waitUntil` work). */
export interface RequestScope {
  requestId: string;
  /** The client's own `X-Request-Id`, when it sent a plain one. */
  clientRequestId?: string;
}

const requestScope = new AsyncLocalStorage<RequestScope>();

/** Runs `work` as part of one request: log lines written meanwhile carry its ids (middleware/request-id.ts). */
export function inRequestScope<T>(scope: RequestScope, work: () => T): T {
  return requestScope.run(scope, work);
}

/** The request the caller runs for, if any (none in queue batches and cron runs). */
export function currentRequest(): RequestScope | undefined {
  return requestScope.getStore();
}

type Level = 'debug' | 'info' | 'warn' | 'error';

const SEVERITY: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Whether a line at `level` is written when the least severe level kept is `threshold` (LOG_LEVEL). */
export function logs(threshold: Level, level: Level): boolean {
  return SEVERITY[level] >= SEVERITY[threshold];
}

/**
 * Writes one structured JSON line, with the ids of the request it runs for. Fields pass through `redact`,
 * so secrets and emails never reach the log pipeline (Workers Logs / Logpush) in the clear.
 */
export function log(level: Level, message: string, fields: Record<string, unknown> = {}): void {
  const line = JSON.stringify({ level, message, time: new Date().toISOString(), ...currentRequest(), ...(redact(fields) as object) });
  if (level === 'error') console.error(line);
  else if (level === 'warn') console.warn(line);
  else console.log(line);
}

/**
 * Serialises an error for a log line: name, message, stack and its cause chain (drizzle wraps driver errors).
 * Message and stack are scrubbed (`scrubText`): drizzle puts a failed query's parameters in its message.
 */
export function describeError(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { message: scrubText(String(error)) };
  return {
    name: error.name,
    message: scrubText(error.message),
    stack: error.stack === undefined ? undefined : scrubText(error.stack),
    ...(error.cause === undefined ? {} : { cause: describeError(error.cause) }),
  };
}
