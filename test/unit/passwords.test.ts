import { afterEach, describe, expect, it, vi } from 'vitest';
import { base64url } from '../../src/lib/crypto.ts';
import { DECOY_PASSWORD_HASH, hashPassword, normaliseEmail, PBKDF2_ITERATIONS, verifyPassword } from '../../src/lib/passwords.ts';
import { passwordPolicyIssue } from '../../src/services/accounts.ts';

const PASSWORD = 'correct horse battery staple';

/** A hash as an older version of the app (fewer iterations) would have stored it. */
async function hashWith(password: string, iterations: number): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(password), 'PBKDF2', false, ['deriveBits']);
  const bits = new Uint8Array(await crypto.subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt, iterations }, key, 256));
  return `pbkdf2-sha256$${iterations}$${base64url(salt)}$${base64url(bits)}`;
}

describe('hashPassword / verifyPassword', () => {
  afterEach(() => vi.restoreAllMocks());

  it('stores the scheme, iterations and a fresh salt with the hash, and verifies only the right password', async () => {
    const [first, second] = await Promise.all([hashPassword(PASSWORD), hashPassword(PASSWORD)]);
    expect(first).toMatch(new RegExp(`^pbkdf2-sha256\\$${PBKDF2_ITERATIONS}\\$[\\w-]{22}\\$[\\w-]{43}$`));
    expect(second).not.toBe(first);
    expect(await verifyPassword(PASSWORD, first)).toEqual({ valid: true, needsRehash: false });
    expect(await verifyPassword(`${PASSWORD} `, first)).toEqual({ valid: false, needsRehash: false });
    expect(await verifyPassword('', first)).toEqual({ valid: false, needsRehash: false });
  });

  it('treats canonically equivalent spellings as the same password (NFKC)', async () => {
    const stored = await hashPassword('caf\u00e9 \ufb01ne password');
    expect((await verifyPassword('cafe\u0301 fine password', stored)).valid).toBe(true);
  });

  it('asks for a rehash when the stored hash used fewer iterations than today', async () => {
    const old = await hashWith(PASSWORD, 1_000);
    expect(await verifyPassword(PASSWORD, old)).toEqual({ valid: true, needsRehash: true });
    expect((await verifyPassword('wrong password', old)).valid).toBe(false);
  });

  it.each([
    ['an unknown scheme', `bcrypt$${PBKDF2_ITERATIONS}$AAAA$AAAA`],
    ['a non-numeric iteration count', 'pbkdf2-sha256$many$AAAAAAAAAAAAAAAAAAAAAA$AAAA'],
    ['missing parts', 'pbkdf2-sha256$100000'],
    ['an empty string', ''],
  ])('rejects a malformed stored hash (%s) without throwing', async (_, stored) => {
    expect(await verifyPassword(PASSWORD, stored)).toEqual({ valid: false, needsRehash: false });
  });

  it('the decoy hash costs a full derivation at today’s parameters and matches no password', async () => {
    const deriveBits = vi.spyOn(crypto.subtle, 'deriveBits');
    for (const guess of ['', PASSWORD, 'password', 'AAAAAAAAAAAAAAAAAAAAAA']) {
      expect(await verifyPassword(guess, DECOY_PASSWORD_HASH)).toEqual({ valid: false, needsRehash: false });
    }
    expect(deriveBits).toHaveBeenCalledTimes(4);
    for (const [algorithm] of deriveBits.mock.calls) expect((algorithm as SubtleCryptoDeriveKeyAlgorithm).iterations).toBe(PBKDF2_ITERATIONS);
  });
});

describe('normaliseEmail', () => {
  it('trims, lower-cases and NFC-normalises', () => {
    expect(normaliseEmail('  Ada.Lovelace@Example.COM ')).toBe('ada.lovelace@example.com');
    expect(normaliseEmail('Jose\u0301@example.com')).toBe('jos\u00e9@example.com');
  });
});

describe('passwordPolicyIssue', () => {
  it('refuses the email address as the password, however it is spelled', () => {
    expect(passwordPolicyIssue('Ada@Example.com ', 'ada@example.com')).toBe('The password must not be your email address.');
    expect(passwordPolicyIssue('ada@example.com!', 'ada@example.com')).toBeUndefined();
    expect(passwordPolicyIssue(PASSWORD, 'ada@example.com')).toBeUndefined();
  });
});
