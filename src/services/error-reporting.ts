import { Toucan, type Options } from 'toucan-js';
import { log, describeError } from '../lib/log.ts';
import { scrubDeep, scrubText } from '../lib/mask.ts';

type SentryEvent = Parameters<NonNullable<Options['beforeSend']>>[0];

interface ErrorReport {
  dsn: string | undefined;
  environment: string;
  waitUntil: (promise: Promise<unknown>) => void;
  request?: Request;
  tags?: Record<string, string>;
}

/**
 * Logs an unexpected error with its stack and, when a Sentry DSN is configured, reports it through
 * toucan-js. Delivery runs in `waitUntil`, so it never delays the response. Only Cloudflare's own
 * request headers are forwarded (toucan's allowlist default): no cookies, no Authorization, no query string,
 * no body; and every event is scrubbed before it leaves (`scrubEvent`).
 */
export function reportError(error: unknown, report: ErrorReport): void {
  log('error', 'unhandled error', { ...report.tags, error: describeError(error) });
  if (!report.dsn) return;
  const sentry = new Toucan({
    dsn: report.dsn,
    environment: report.environment,
    context: { waitUntil: report.waitUntil },
    request: report.request,
    beforeSend: scrubEvent,
  });
  for (const [key, value] of Object.entries(report.tags ?? {})) sentry.setTag(key, value);
  sentry.captureException(error);
}

/**
 * What a report may carry of callers' data, masked as the log is (src/lib/mask.ts): emails, tokens, keys,
 * hashes and query parameters in the error's message, stack and causes become `[redacted]` or masked, values
 * under secret-looking keys are dropped, and of the request only its method, path and allowed headers remain.
 */
export function scrubEvent(event: SentryEvent): SentryEvent {
  const { request, ...rest } = event;
  const scrubbed = scrubDeep(rest) as SentryEvent;
  if (request) scrubbed.request = { method: request.method, url: request.url && scrubText(request.url), headers: scrubDeep(request.headers) as Record<string, string> | undefined };
  return scrubbed;
}
