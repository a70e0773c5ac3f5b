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
