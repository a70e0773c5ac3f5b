import type { z } from 'zod';
import { ApiError } from '../errors.ts';

type Issue = { path: string; code: string; message: string };

/**
 * Turns a zod failure into the 400 envelope, with one entry per failing field path. An unknown key
 * (strict bodies and queries) gets an entry of its own whose path is that key, so the client sees which
 * of its fields or parameters was not understood.
 */
export function validationError(error: z.ZodError): ApiError {
  const issues = error.issues.flatMap((issue): Issue[] => {
    const path = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ path: [...path, key].join('.'), code: issue.code, message: `unknown field "${key}"` }));
    }
    return [{ path: path.join('.'), code: issue.code, message: issue.message }];
  });
  return new ApiError('VALIDATION_FAILED', 'Request validation failed.', { issues });
}
