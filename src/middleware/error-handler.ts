import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { AppEnv } from '../env.ts';
import { apiErrorFromDatabase } from '../db/errors.ts';
import { ApiError, type ErrorCode, type ErrorEnvelope } from '../errors.ts';
import { describeError, log } from '../lib/log.ts';
import { reportError } from '../services/error-reporting.ts';

const codeForStatus: Partial<Record<number, ErrorCode>> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  409: 'CONFLICT',
  405: 'METHOD_NOT_ALLOWED',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
  503: 'SERVICE_UNAVAILABLE',
};

/** Renders an ApiError as the one error envelope. */
export function renderError(c: Context<AppEnv>, error: ApiError): Response {
  const body: ErrorEnvelope = {
    error: {
      code: error.code,
      message: error.message,
      ...(error.details === undefined ? {} : { details: error.details }),
      requestId: c.var.requestId,
    },
  };
  return c.json(body, error.status, error.headers);
}

/**
 * The app's onError: ApiErrors render as they are; database errors map onto their code (a transient
 * fault is a 503 with Retry-After, see db/errors.ts); Hono's HTTPExceptions (e.g. malformed JSON) map
 * onto a stable code; anything else is a 500 without internals, logged and reported to Sentry.
 */
export const handleError: ErrorHandler<AppEnv> = (error, c) => {
  if (error instanceof ApiError) return renderError(c, error);
  const fromDatabase = apiErrorFromDatabase(error);
  if (fromDatabase) {
    // Not a bug, so not a Sentry report; the line lets operators see the fault's rate and cause.
    if (fromDatabase.code !== 'SERVICE_UNAVAILABLE') return renderError(c, fromDatabase);
    log('warn', 'database unavailable', { requestId: c.var.requestId, error: describeError(error) });
    // A write whose answer was lost may have committed: say so, rather than invite a blind retry.
    const read = c.req.method === 'GET' || c.req.method === 'HEAD';
    return renderError(c, read ? fromDatabase : new ApiError(fromDatabase.code, `${fromDatabase.message} This change may or may not have been applied; check before retrying.`, { outcome: 'unknown' }, fromDatabase.headers));
  }
  if (error instanceof HTTPException && error.status < 500) {
    const code = codeForStatus[error.status] ?? 'BAD_REQUEST';
    return renderError(c, new ApiError(code, error.message || 'Bad request.'));
  }
  reportError(error, {
    dsn: c.var.config?.SENTRY_DSN,
    environment: c.var.config?.APP_ENV ?? 'unknown',
    waitUntil: (promise) => c.executionCtx.waitUntil(promise),
    request: c.req.raw,
    tags: { requestId: c.var.requestId },
  });
  return renderError(c, new ApiError('INTERNAL', 'An unexpected error occurred.'));
};

export const handleNotFound: NotFoundHandler<AppEnv> = (c) =>
  renderError(c, new ApiError('NOT_FOUND', `No route for ${c.req.method} ${c.req.path}.`));

/** onMethodNotAllowed for hono's methodNotAllowed middleware. */
export function handleMethodNotAllowed(c: Context<AppEnv>, allowed: string[]): Response {
  return renderError(
    c,
    new ApiError('METHOD_NOT_ALLOWED', `${c.req.method} is not allowed here.`, { allowed }, { Allow: allowed.join(', ') }),
  );
}
