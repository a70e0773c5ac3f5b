import { SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { MAIL_CSP, MAIL_LIST_CSP } from '../../src/routes/dev/mail-viewer.ts';
import { api, createUser } from '../helpers/factories.ts';
import { env, request } from '../helpers/worker.ts';

/** Polls the viewer until a mail to `to` is listed (it arrives through the real queue). */
async function listedFor(to: string): Promise<string> {
  for (const deadline = Date.now() + 15_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 100))) {
    const page = await (await api('/api/dev/mail')).text();
    if (page.includes(to)) return page;
  }
  throw new Error(`no mail to ${to} in the viewer`);
}

describe('dev mail viewer (GET /api/dev/mail)', () => {
  it('lists mails with their links; a mail opens as its own HTML under a sandboxing CSP', async () => {
    const user = await createUser({ name: '<img src=x onerror=alert(1)>' });
    expect((await api('/api/v1/auth/forgot-password', { body: { email: user.email } })).status).toBe(202);
    const page = await listedFor(user.email);

    const list = await api('/api/dev/mail');
    expect(list.headers.get('content-type')).toMatch(/^text\/html/);
    expect(list.headers.get('content-security-policy')).toBe(MAIL_LIST_CSP);
    expect(page).not.toMatch(/<script/i);
    const row = page.split('\n').find((line) => line.includes(user.email)) ?? '';
    const href = /<a href="mail\/(\d+)">/.exec(row)?.[1];
    expect(href).toBeDefined();
    expect(row).toMatch(/<a href="http:\/\/localhost:\d+\/reset-password\?token=[^"]+">/);

    const mail = await api(`/api/dev/mail/${href}`);
    expect(mail.status).toBe(200);
    expect(mail.headers.get('content-security-policy')).toBe(MAIL_CSP);
    expect(MAIL_CSP).toContain('sandbox');
    expect(MAIL_CSP).not.toContain('script-src');
    const html = await mail.text();
    expect(html).toContain('/reset-password?token=');
    // The user's name is escaped in the mail; the CSP would stop it anyway.
    expect(html).not.toContain('<img src=x');
  });

  it('an unknown mail is 404; a malformed id is 400', async () => {
    expect((await api('/api/dev/mail/999999999999')).status).toBe(404);
    expect((await api('/api/dev/mail/abc')).status).toBe(400);
  });

  it('exists only with DEV_OUTBOX=on, and only for loopback callers (the outbox opt-in)', async () => {
    const remote = await SELF.fetch('http://localhost/api/dev/mail', { headers: { 'cf-connecting-ip': '203.0.113.9' } });
    expect(remote.status).toBe(404);
    const publicHost = await SELF.fetch('http://api.example.com/api/dev/mail', { headers: { 'cf-connecting-ip': '127.0.0.1' } });
    expect(publicHost.status).toBe(404);
    const off = await request('http://localhost/api/dev/mail', { headers: { 'cf-connecting-ip': '127.0.0.1' } }, { bindings: { ...env, DEV_OUTBOX: 'off' } });
    expect(off.status).toBe(404);
    expect((await request('http://localhost/api/dev/mail/1', { headers: { 'cf-connecting-ip': '127.0.0.1' } }, { bindings: { ...env, DEV_OUTBOX: 'off' } })).status).toBe(404);
  });
});
