// The same rules as the audit log's SQL (src/db/sql/masking.sql); test/integration/masking.test.ts
// feeds both the same cases.
// Keys whose values are secrets. `url`/`link`: emailed links carry single-use tokens in their query.
// `key_hash`: what the database keeps of an API key; like the other hashes, the audit log never shows it.
const SECRET_KEY = /pass(word)?|secret|token|authorization|cookie|api[-_]?key|key[-_]?hash|dsn|signature|^url$|link/i;
// The domain follows the last "@" (a quoted local part may hold one). `u`: count code points, so an
// emoji is never cut in half.
const EMAIL = /^([^@\s]{1,3})[^\s]*(@[^@\s]+)$/u;

/** `john.doe@example.com` → `joh***@example.com`; anything that is not an email passes through. */
export function maskEmail(value: string): string {
  return value.replace(EMAIL, '$1***$2');
}

/**
 * Deep-copies `value` for logging: values under secret-looking keys become `[redacted]`,
 * email addresses are masked. Never mutates its input.
 */
export function redact(value: unknown, key = ''): unknown {
  return redactWith(value, key, maskEmail);
}

/**
 * Like `redact`, but every string is scrubbed as free text (`scrubText`): for an error report, whose strings
 * are messages, stacks and causes.
 */
export function scrubDeep(value: unknown): unknown {
  return redactWith(value, '', (text) => scrubText(text));
}

function redactWith(value: unknown, key: string, strings: (text: string) => string): unknown {
  if (SECRET_KEY.test(key)) return '[redacted]';
  if (typeof value === 'string') return strings(value);
  if (Array.isArray(value)) return value.map((item) => redactWith(item, '', strings));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactWith(v, k, strings)]));
  }
  return value;
}

// Secrets and personal data that free text (an error's message or stack) may carry, in order.
const IN_TEXT: Array<[RegExp, string | ((match: string) => string)]> = [
  // drizzle's `Failed query: <sql>\nparams: <values>`: the values are callers' data (emails, hashes, tokens);
  // in a stack they run up to the first frame.
  [/(\bparams: )[\s\S]*?(?=\n\s+at\s|$)/g, '$1[redacted]'],
  [/\bBearer\s+\S+/gi, 'Bearer [redacted]'],
  [/\b(sk_(?:live|test)_)[\w-]+/g, '$1[redacted]'],
  [/\beyJ[\w-]+\.[\w-]+\.[\w-]*/g, '[redacted]'],
  [/pbkdf2-sha256\$[^\s,'"]*/g, '[redacted]'],
  // Hex hashes, base64url tokens and secrets (refresh tokens, API keys, digests) are long unbroken runs.
  [/[\w-]{40,}/g, '[redacted]'],
  [/[^\s@"'`<>()[\]{},;:]+@[^\s@"'`<>()[\]{},;:]+/gu, (match) => maskEmail(match)],
];

/**
 * Masks what free text (an error message, a stack) may carry: query parameters, bearer credentials, API
 * keys, JWTs, password hashes, long tokens and digests become `[redacted]`, emails are masked.
 */
export function scrubText(text: string): string {
  return IN_TEXT.reduce((result, [pattern, replacement]) => result.replace(pattern, replacement as string), text);
}
