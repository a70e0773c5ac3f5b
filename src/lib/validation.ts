import type { z } from 'zod';
import { ApiError } from '../errors.ts';

/** Turns a zod failure into the 400 envelope, with one entry per failing field path. */
export function validationError(error: z.ZodError): ApiError {
  const issues = error.issues.map((issue) => ({
    path: issue.path.map(String).join('.'),
    code: issue.code,
    message: issue.message,
  }));
  return new ApiError('VALIDATION_FAILED', 'Request validation failed.', { issues });
}
