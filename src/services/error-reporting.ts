import { Toucan } from 'toucan-js';
import { log, describeError } from '../lib/log.ts';

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
 * request headers are forwarded (toucan's allowlist default): no cookies, no Authorization.
 */
export function reportError(error: unknown, report: ErrorReport): void {
  log('error', 'unhandled error', { ...report.tags, error: describeError(error) });
  if (!report.dsn) return;
  const sentry = new Toucan({
    dsn: report.dsn,
    environment: report.environment,
    context: { waitUntil: report.waitUntil },
    request: report.request,
  });
  for (const [key, value] of Object.entries(report.tags ?? {})) sentry.setTag(key, value);
  sentry.captureException(error);
}
