// Keys whose values are secrets. `url`/`link`: emailed links carry single-use tokens in their query.
const SECRET_KEY = /pass(word)?|secret|token|authorization|cookie|api[-_]?key|dsn|signature|^url$|link/i;
const EMAIL = /^([^@\s]{1,3})[^@\s]*(@[^@\s]+)$/;

/** `john.doe@example.com` → `joh***@example.com`; anything that is not an email passes through. */
export function maskEmail(value: string): string {
  return value.replace(EMAIL, '$1***$2');
}

/**
 * Deep-copies `value` for logging: values under secret-looking keys become `[redacted]`,
 * email addresses are masked. Never mutates its input.
 */
export function redact(value: unknown, key = ''): unknown {
  if (SECRET_KEY.test(key)) return '[redacted]';
  if (typeof value === 'string') return maskEmail(value);
  if (Array.isArray(value)) return value.map((item) => redact(item));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redact(v, k)]));
  }
  return value;
}
