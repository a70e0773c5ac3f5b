import { describe, expect, it } from 'vitest';
import { isForbiddenAddress, parseIPv6, resolvedAddressProblem, webhookUrlProblem } from '../../src/lib/ssrf.ts';

describe('SSRF rules for webhook URLs', () => {
  it.each([
    '127.0.0.1', '127.255.0.9', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '100.127.255.255',
    '0.0.0.0', '224.0.0.1', '255.255.255.255', '198.18.0.1', '192.0.2.10',
    '::1', '::', '[::1]', 'fd00:ec2::254', 'fc00::1', 'fe80::1', 'ff02::1', '2001:db8::1', '2002:7f00:1::',
    '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:a9fe:a9fe', '64:ff9b::10.0.0.1', '::127.0.0.1', '::ffff:0:127.0.0.1', '::ffff:0:a9fe:a9fe', '64:ff9b:1::8.8.8.8',
  ])('%s is forbidden', (address) => {
    expect(isForbiddenAddress(address)).toBe(true);
  });

  it.each(['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8', '64:ff9b::8.8.8.8'])('%s is public', (address) => {
    expect(isForbiddenAddress(address)).toBe(false);
  });

  it('parses IPv6 forms, and refuses malformed ones (a malformed address is forbidden)', () => {
    expect(parseIPv6('::ffff:1.2.3.4')).toEqual([0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304]);
    expect(parseIPv6('1:2:3:4:5:6:7:8')).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    for (const bad of ['1::2::3', '12345::', '1:2:3:4:5:6:7:8:9', '::1.2.3.256']) expect(parseIPv6(bad)).toBeUndefined();
    expect(isForbiddenAddress('[zz::1]')).toBe(true);
  });

  it.each([
    ['http://example.com/hook', 'must use https'],
    ['ftp://example.com/hook', 'must use https'],
    ['https://0x7f.1/hook', 'must not point at'],
    ['https://2130706433/hook', 'must not point at'],
    ['https://0177.0.0.1/hook', 'must not point at'],
    ['https://0xa9fea9fe/latest', 'must not point at'],
    ['https://[::ffff:169.254.169.254]/', 'must not point at'],
    ['https://[fd00:ec2::254]/', 'must not point at'],
    ['https://localhost:8443/hook', 'public host name'],
    ['https://api.internal/hook', 'public host name'],
    ['https://printer.local/hook', 'public host name'],
    ['https://intranet/hook', 'public host name'],
    ['https://u:p@example.com/hook', 'credentials'],
    ['not a url', 'absolute URL'],
  ])('%s is refused (%s)', (url, reason) => {
    expect(webhookUrlProblem(url, false)).toContain(reason);
  });

  it('takes public https URLs; the local receiver only where allowed (development and test)', () => {
    expect(webhookUrlProblem('https://hooks.example.com/in?x=1', false)).toBeUndefined();
    expect(webhookUrlProblem('https://8.8.8.8/in', false)).toBeUndefined();
    expect(webhookUrlProblem('http://127.0.0.1:8080/in', false)).toBeDefined();
    expect(webhookUrlProblem('http://127.0.0.1:8080/in', true)).toBeUndefined();
    expect(webhookUrlProblem('http://10.0.0.1/in', true)).toBeDefined();
  });

  it('at delivery, a public name resolving to a private address is refused (DNS over HTTPS answers)', async () => {
    const answering = (data: string) =>
      (async (input: RequestInfo | URL) => {
        const type = new URL(String(input)).searchParams.get('type');
        return Response.json({ Answer: type === 'A' ? [{ type: 1, data }] : [] });
      }) as typeof fetch;
    expect(await resolvedAddressProblem('rebind.example.com', answering('169.254.169.254'))).toContain('forbidden address');
    expect(await resolvedAddressProblem('ok.example.com', answering('93.184.216.34'))).toBeUndefined();
    expect(await resolvedAddressProblem('nx.example.com', (async () => Response.json({})) as typeof fetch)).toBe('host does not resolve');
  });
});
