// SSRF rules for webhook endpoints (README, "Webhooks"): a customer's URL must never make us call into our own
// or anyone's private network. Literal addresses are checked when an endpoint is saved and again before each
// delivery; in production the host's DNS answers are checked too (DNS over HTTPS) just before each delivery.

/** IPv4 ranges that are not the public internet (RFC 6890 and friends): [first address, prefix length]. */
const BLOCKED_V4: ReadonlyArray<readonly [string, number]> = [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, cloud metadata (169.254.169.254)
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
];

/** IPv6 ranges refused outright: [first address, prefix length]. Mapped and NAT64 forms are judged by their IPv4. */
const BLOCKED_V6: ReadonlyArray<readonly [string, number]> = [
  ['::', 96], // unspecified, loopback, IPv4-compatible (deprecated)
  ['100::', 64], // discard
  ['2001::', 23], // IETF protocol assignments (Teredo among them)
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4: embeds any IPv4
  ['fc00::', 7], // unique local (AWS metadata fd00:ec2::254 among them)
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
];

/** A dotted-quad IPv4 (the URL parser already turns `0x7f.1`, `2130706433` and `0177.0.0.1` into one) → 32 bits. */
export function parseIPv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((part) => /^\d{1,3}$/.test(part) && Number(part) <= 255)) return undefined;
  return parts.reduce((value, part) => value * 256 + Number(part), 0);
}

/** An IPv6 address (without brackets; an embedded dotted IPv4 tail allowed) → its eight 16-bit groups. */
export function parseIPv6(input: string): number[] | undefined {
  let text = input;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4?.[1]) {
    const value = parseIPv4(v4[1]);
    if (value === undefined) return undefined;
    text = `${text.slice(0, v4.index)}${Math.floor(value / 65536).toString(16)}:${(value % 65536).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (half: string | undefined) => (half ? half.split(':') : []);
  const [left, right] = [groups(halves[0]), groups(halves[1])];
  if (![...left, ...right].every((group) => /^[0-9a-f]{1,4}$/i.test(group))) return undefined;
  const given = left.length + right.length;
  if (halves.length === 1 ? given !== 8 : given > 7) return undefined;
  return [...left, ...Array<string>(8 - given).fill('0'), ...right].map((group) => parseInt(group, 16));
}

function inV4(address: number, [first, prefix]: readonly [string, number]): boolean {
  const size = 2 ** (32 - prefix);
  return Math.floor(address / size) === Math.floor((parseIPv4(first) ?? 0) / size);
}

function inV6(groups: number[], [first, prefix]: readonly [string, number]): boolean {
  const base = parseIPv6(first) ?? [];
  for (let bit = 0; bit < prefix; bit += 16) {
    const take = Math.min(16, prefix - bit);
    const shift = 16 - take;
    if ((groups[bit / 16] ?? 0) >> shift !== (base[bit / 16] ?? 0) >> shift) return false;
  }
  return true;
}

/** Whether an IP address (IPv4 dotted, or IPv6 with or without brackets) is anything but a public unicast address. */
export function isForbiddenAddress(address: string): boolean {
  const v4 = parseIPv4(address);
  if (v4 !== undefined) return BLOCKED_V4.some((range) => inV4(v4, range));
  const groups = parseIPv6(address.replace(/^\[|\]$/g, ''));
  if (!groups) return true;
  const embedded = (groups[6] ?? 0) * 65536 + (groups[7] ?? 0);
  // Local-use NAT64 (64:ff9b:1::/48) translates into private networks: refused whole.
  if (inV6(groups, ['64:ff9b:1::', 48])) return true;
  // ::ffff:a.b.c.d (IPv4-mapped), ::ffff:0:a.b.c.d (SIIT) and 64:ff9b::a.b.c.d (NAT64) reach the IPv4 address they carry.
  const carriesV4 = inV6(groups, ['::ffff:0:0', 96]) || inV6(groups, ['::ffff:0:0:0', 96]) || inV6(groups, ['64:ff9b::', 96]);
  if (carriesV4) return BLOCKED_V4.some((range) => inV4(embedded, range));
  return BLOCKED_V6.some((range) => inV6(groups, range));
}

const isIpLiteral = (host: string) => parseIPv4(host) !== undefined || host.startsWith('[');

/** Names that only ever mean something private. */
const PRIVATE_NAME = /(^|\.)(localhost|local|internal|intranet|lan|home\.arpa)$/i;

/**
 * Why `raw` may not be a webhook endpoint, or undefined if it may. `allowLoopback` (development and test only)
 * lets plain-HTTP receivers on the loopback address through, for the local receiver.
 */
export function webhookUrlProblem(raw: string, allowLoopback: boolean): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'must be an absolute URL';
  }
  const host = url.hostname.toLowerCase();
  const loopback = host === '127.0.0.1' || host === '[::1]';
  if (allowLoopback && loopback && (url.protocol === 'http:' || url.protocol === 'https:')) return undefined;
  if (url.protocol !== 'https:') return 'must use https';
  if (url.username || url.password) return 'must not carry credentials';
  if (isIpLiteral(host)) return isForbiddenAddress(host) ? 'must not point at a private, loopback, link-local or reserved address' : undefined;
  if (!host.includes('.') || PRIVATE_NAME.test(host)) return 'must be a public host name';
  return undefined;
}

type DnsAnswer = { Answer?: Array<{ type: number; data: string }> };

/**
 * Resolves `host` over DNS-over-HTTPS (A and AAAA) and reports a forbidden answer, so a public name that
 * points at a private address is refused before we connect. The runtime resolves again when it connects, so a
 * name re-pointed in between (DNS rebinding) is not caught here; Workers cannot reach private networks anyway.
 */
export async function resolvedAddressProblem(host: string, fetcher: typeof fetch = fetch): Promise<string | undefined> {
  if (isIpLiteral(host)) return undefined;
  const answers = await Promise.all(
    ['A', 'AAAA'].map(async (type) => {
      const response = await fetcher(`https://cloudflare-dns.com/dns-query?name=${encodeURIComponent(host)}&type=${type}`, {
        headers: { accept: 'application/dns-json' },
        signal: AbortSignal.timeout(5_000),
      });
      if (!response.ok) throw new Error(`DNS over HTTPS answered ${response.status}`);
      return ((await response.json()) as DnsAnswer).Answer ?? [];
    }),
  );
  const addresses = answers.flat().filter((answer) => answer.type === 1 || answer.type === 28);
  if (addresses.length === 0) return 'host does not resolve';
  const forbidden = addresses.find((answer) => isForbiddenAddress(answer.data));
  return forbidden ? `host resolves to a forbidden address (${forbidden.data})` : undefined;
}
