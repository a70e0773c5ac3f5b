import { describe, expect, it } from 'vitest';
import { maskEmail, redact } from '../../src/lib/mask.ts';

describe('maskEmail', () => {
  it('keeps the first three characters and the domain', () => {
    expect(maskEmail('john.doe@example.com')).toBe('joh***@example.com');
    expect(maskEmail('al@example.com')).toBe('al***@example.com');
  });

  it('leaves non-emails alone', () => {
    expect(maskEmail('not an email')).toBe('not an email');
  });
});

describe('redact', () => {
  it('removes secrets by key and masks emails anywhere, without mutating the input', () => {
    const input = { user: { email: 'jane@example.com', password: 'pw' }, headers: { Authorization: 'Bearer x' }, apiKey: 'sk_live_1', list: ['bob@example.com'], n: 1 };
    expect(redact(input)).toEqual({
      user: { email: 'jan***@example.com', password: '[redacted]' },
      headers: { Authorization: '[redacted]' },
      apiKey: '[redacted]',
      list: ['bob***@example.com'],
      n: 1,
    });
    expect(input.user.password).toBe('pw');
  });
});

describe('scrubText', () => {
  it("redacts a failed query's parameters in a message and in a stack, up to the first frame", async () => {
    const { scrubText } = await import('../../src/lib/mask.ts');
    const message = 'Failed query: select "id" from "users" where "email" = $1\nparams: owner@demo.example.com,pbkdf2-sha256$1$abc$def';
    expect(scrubText(message)).toBe('Failed query: select "id" from "users" where "email" = $1\nparams: [redacted]');
    const stack = `DrizzleQueryError: ${message}\n    at query (index.js:1:2)\n    at handler (index.js:3:4)`;
    expect(scrubText(stack)).toBe('DrizzleQueryError: Failed query: select "id" from "users" where "email" = $1\nparams: [redacted]\n    at query (index.js:1:2)\n    at handler (index.js:3:4)');
  });

  it('masks emails, bearer credentials, API keys, JWTs, password hashes and long tokens inside text', async () => {
    const { scrubText } = await import('../../src/lib/mask.ts');
    const secret = 'A'.repeat(43);
    const text = `user jane.doe@example.com sent Bearer abc.def with sk_live_${secret} and eyJhbGciOi.eyJzdWIi.sig, hash pbkdf2-sha256$600000$salt$hash, rt_${secret}, ${'f'.repeat(64)}`;
    const scrubbed = scrubText(text);
    expect(scrubbed).toBe('user jan***@example.com sent Bearer [redacted] with sk_live_[redacted] and [redacted], hash [redacted], [redacted], [redacted]');
    expect(scrubText('GET /api/v1/orgs/00000000-0000-4000-8000-000000000100 took 3 ms')).toBe('GET /api/v1/orgs/00000000-0000-4000-8000-000000000100 took 3 ms');
  });
});
