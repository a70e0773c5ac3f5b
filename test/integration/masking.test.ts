import { eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { auditLogs, organizations } from '../../src/db/schema/index.ts';
import { maskEmail, redact } from '../../src/lib/mask.ts';
import { ownerDb } from '../helpers/factories.ts';

/**
 * One set of masking rules, two implementations: logs and dead letters (src/lib/mask.ts) and the audit
 * log (mask_email / audit_mask in src/db/sql/masking.sql). Both get the same cases and must give the
 * expected answer. (Postgres text holds neither NUL nor lone surrogates, so neither is a case.)
 */
const EMAILS: Array<[input: string, masked: string]> = [
  ['john.doe@example.com', 'joh***@example.com'],
  ['JOHN.DOE@EXAMPLE.COM', 'JOH***@EXAMPLE.COM'],
  ['abcd@example.com', 'abc***@example.com'],
  ['abc@example.com', 'abc***@example.com'],
  ['al@example.com', 'al***@example.com'],
  ['a@example.com', 'a***@example.com'],
  ['a@b', 'a***@b'],
  // The domain follows the last "@": a quoted local part may hold one, and none of it shows.
  ['a@b@c.com', 'a***@c.com'],
  ['"john@doe"@example.com', '"jo***@example.com'],
  ['john@@example.com', 'joh***@example.com'],
  // Code points, not UTF-16 units: an emoji is kept whole, never cut in half.
  ['jöhn@exämple.com', 'jöh***@exämple.com'],
  ['😀😀😀😀@example.com', '😀😀😀***@example.com'],
  ['名前です@例え.jp', '名前で***@例え.jp'],
  ['ja\u0085ne@example.com', 'ja\u0085***@example.com'],
  // Not an email: passes through.
  ['not an email', 'not an email'],
  ['', ''],
  ['@example.com', '@example.com'],
  ['john@', 'john@'],
  ['@john@example.com', '@john@example.com'],
  ['Launch @ HQ', 'Launch @ HQ'],
  ['jane doe@example.com', 'jane doe@example.com'],
  [' jane@example.com', ' jane@example.com'],
  ['jane@example.com\n', 'jane@example.com\n'],
  ['jane@example.com\nbob@example.com', 'jane@example.com\nbob@example.com'],
  ['ja\u00a0ne@example.com', 'ja\u00a0ne@example.com'],
  ['ja\u3000ne@example.com', 'ja\u3000ne@example.com'],
  ['ja\u2028ne@example.com', 'ja\u2028ne@example.com'],
  ['jane@exa\ufeffmple.com', 'jane@exa\ufeffmple.com'],
];

const VALUES: Array<[key: string, value: unknown, masked: unknown]> = [
  ['email', 'jane@example.com', 'jan***@example.com'],
  ['name', 'jane@example.com', 'jan***@example.com'],
  ['name', 'Jane', 'Jane'],
  ['password', 'hunter2', '[redacted]'],
  ['PASSWORD', 'hunter2', '[redacted]'],
  ['passphrase', 'x', '[redacted]'],
  ['Authorization', 'Bearer abc', '[redacted]'],
  ['cookie', 'sid=1', '[redacted]'],
  ['api_key', 'sk_live_1', '[redacted]'],
  ['X-API-Key', 'sk_live_1', '[redacted]'],
  ['apiKey', 'sk_live_1', '[redacted]'],
  ['key_hash', 'ab12', '[redacted]'],
  ['keyHash', 'ab12', '[redacted]'],
  ['previous_key_hash', 'ab12', '[redacted]'],
  ['token_hash', 'ab12', '[redacted]'],
  ['refreshToken', 'rt', '[redacted]'],
  ['client_secret', null, '[redacted]'],
  ['signature', 42, '[redacted]'],
  ['sentry_dsn', 'https://x@sentry.io/1', '[redacted]'],
  ['url', 'https://app.example.com/reset?token=abc', '[redacted]'],
  ['resetLink', 'https://app.example.com/reset?token=abc', '[redacted]'],
  ['urls', ['https://example.com'], ['https://example.com']],
  ['key', 'value', 'value'],
  ['prefix', 'sk_live_ab', 'sk_live_ab'],
  ['count', 3, 3],
  ['active', false, false],
  ['deleted_at', null, null],
  ['scopes', ['projects:read', 'jane@example.com'], ['projects:read', 'jan***@example.com']],
  [
    'metadata',
    { email: 'bob@example.com', nested: { password: 'p', list: [{ token: 't' }, 'al@example.com', 1] }, ok: true, none: null },
    { email: 'bob***@example.com', nested: { password: '[redacted]', list: [{ token: '[redacted]' }, 'al***@example.com', 1] }, ok: true, none: null },
  ],
];

describe('masking rules, in TypeScript and in SQL', () => {
  it('mask emails the same way', async () => {
    const { rows } = await ownerDb.http.execute<{ masked: string }>(sql`
      select mask_email(t.input) as masked from jsonb_array_elements_text(${JSON.stringify(EMAILS.map(([input]) => input))}::jsonb) with ordinality as t(input, n) order by t.n`);
    const expected = EMAILS.map(([, masked]) => masked);
    expect(EMAILS.map(([input]) => maskEmail(input))).toEqual(expected);
    expect(rows.map((row) => row.masked)).toEqual(expected);
  });

  it('redact secrets by key and mask emails in any value, nested or not, the same way', async () => {
    const { rows } = await ownerDb.http.execute<{ masked: unknown }>(sql`
      select audit_mask(t.pair->>0, t.pair->1) as masked from jsonb_array_elements(${JSON.stringify(VALUES.map(([key, value]) => [key, value]))}::jsonb) with ordinality as t(pair, n) order by t.n`);
    const expected = VALUES.map(([, , masked]) => masked);
    expect(VALUES.map(([key, value]) => (redact({ [key]: value }) as Record<string, unknown>)[key])).toEqual(expected);
    expect(rows.map((row) => row.masked)).toEqual(expected);
  });

  it('reach the audit log: a tenant row named like an email is logged masked', async () => {
    const [org] = await ownerDb.http.insert(organizations).values({ name: 'ceo@example.com', slug: `mask-${crypto.randomUUID().slice(0, 8)}` }).returning({ id: organizations.id });
    const entries = await ownerDb.http.select({ changes: auditLogs.changes }).from(auditLogs).where(eq(auditLogs.orgId, org?.id ?? ''));
    expect(entries).toEqual([{ changes: expect.objectContaining({ name: 'ceo***@example.com' }) }]);
  });
});
