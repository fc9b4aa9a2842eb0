/**
 * Where a webhook may be sent (SPEC §12). Outside the local runtime a target must be https and must not reach
 * a private, loopback, link-local, unique-local or otherwise non-public address (IPv4 and IPv6, literal or
 * behind a DNS name): an endpoint URL is chosen by a tenant, and the delivery consumer runs inside our
 * network, so this is what keeps it from being a request forgery tool (SSRF). Names are checked when the
 * endpoint is registered and again for every delivery, on the very addresses the connection then uses
 * (checkedLookup), so a name re-pointed at 127.0.0.1 after registration (DNS rebinding) is refused too.
 *
 * The local runtime turns the allowance on (COMPUX_WEBHOOK_ALLOW_LOCAL=1): there receivers are http servers
 * on 127.0.0.1.
 */
import { BlockList, isIP } from 'node:net';

export const MAX_WEBHOOK_URL_CHARS = 2_048;

export interface UrlPolicy {
  /** The local runtime's allowance: http and non-public targets accepted. */
  allow_local: boolean;
}

export const urlPolicyFromEnv = (env: NodeJS.ProcessEnv = process.env): UrlPolicy => ({ allow_local: env.COMPUX_WEBHOOK_ALLOW_LOCAL === '1' });

export type UrlCode = 'invalid_url' | 'insecure_scheme' | 'credentials_in_url' | 'private_address' | 'unresolvable';
export type UrlCheck = { ok: true; url: URL } | { ok: false; code: UrlCode };

/**
 * Every address that is not on the public internet. Two lists: Node's BlockList matches IPv4 addresses against
 * an IPv6 rule covering their mapped form (::ffff:0:0/96), which would refuse every IPv4 address.
 */
const NON_PUBLIC_V4 = new BlockList();
const NON_PUBLIC_V6 = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24],
  ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) NON_PUBLIC_V4.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 128], ['::1', 128], ['::ffff:0:0', 96], ['64:ff9b::', 96], ['64:ff9b:1::', 48], ['100::', 64], ['2001::', 23], ['2001:db8::', 32],
  ['2002::', 16], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8],
] as const) NON_PUBLIC_V6.addSubnet(net, prefix, 'ipv6');

/** 16 bytes of an IPv6 address (with "::" and a trailing dotted quad), or null. */
function ipv6Bytes(ip: string): number[] | null {
  let s = ip.replace(/^\[|\]$/g, '').split('%')[0]!;
  const tail: number[] = [];
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (quad) {
    tail.push(...quad[1]!.split('.').map(Number));
    s = s.slice(0, -quad[1]!.length) + '0:0';
  }
  const [head, rest] = s.split('::') as [string, string | undefined];
  const part = (x: string | undefined) => (x ? x.split(':').filter((g) => g !== '') : []);
  const h = part(head), r = part(rest);
  const groups = rest === undefined ? h : [...h, ...Array(8 - h.length - r.length).fill('0'), ...r];
  if (groups.length !== 8) return null;
  const bytes = groups.flatMap((g) => {
    const n = parseInt(g, 16);
    return [n >> 8, n & 0xff];
  });
  if (tail.length === 4) bytes.splice(12, 4, ...tail);
  return bytes;
}

/** Whether an address (IPv4 or IPv6 text) is anything but a public unicast one; not an IP at all counts as non-public. */
export function isNonPublicAddress(ip: string): boolean {
  const bare = ip.replace(/^\[|\]$/g, '');
  const family = isIP(bare);
  if (family === 4) return NON_PUBLIC_V4.check(bare, 'ipv4');
  if (family !== 6) return true;
  if (NON_PUBLIC_V6.check(bare, 'ipv6')) return true;
  // IPv4 embedded in IPv6 (mapped, compatible, NAT64): judged by its IPv4 part as well.
  const b = ipv6Bytes(bare);
  if (!b) return true;
  const v4 = b.slice(12).join('.');
  const zero10 = b.slice(0, 10).every((x) => x === 0);
  if (zero10 && ((b[10] === 0xff && b[11] === 0xff) || (b[10] === 0 && b[11] === 0))) return NON_PUBLIC_V4.check(v4, 'ipv4');
  return false;
}

/** The shape of dns.promises.lookup with { all: true }: injected so tests need no resolver. */
export type LookupAll = (hostname: string) => Promise<{ address: string; family: number }[]>;

/** The syntax and scheme rules, no I/O. */
export function parseWebhookUrl(raw: string, policy: UrlPolicy): UrlCheck {
  if (raw.length > MAX_WEBHOOK_URL_CHARS) return { ok: false, code: 'invalid_url' };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, code: 'invalid_url' };
  }
  if (url.protocol !== 'https:' && !(policy.allow_local && url.protocol === 'http:')) return { ok: false, code: 'insecure_scheme' };
  if (url.username || url.password) return { ok: false, code: 'credentials_in_url' };
  if (!url.hostname) return { ok: false, code: 'invalid_url' };
  if (policy.allow_local) return { ok: true, url };
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) return isNonPublicAddress(host) ? { ok: false, code: 'private_address' } : { ok: true, url };
  // Names that never leave the machine or the site, whatever a resolver says.
  if (/(^|\.)(localhost|local|internal|localdomain|home\.arpa)\.?$/i.test(host)) return { ok: false, code: 'private_address' };
  return { ok: true, url };
}

/** The full check: syntax, then every address the name resolves to (outside the local runtime). */
export async function checkWebhookUrl(raw: string, policy: UrlPolicy, lookup: LookupAll): Promise<UrlCheck> {
  const parsed = parseWebhookUrl(raw, policy);
  if (!parsed.ok || policy.allow_local) return parsed;
  const host = parsed.url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) return parsed;
  let addresses: { address: string }[];
  try {
    addresses = await lookup(host);
  } catch {
    return { ok: false, code: 'unresolvable' };
  }
  if (addresses.length === 0) return { ok: false, code: 'unresolvable' };
  return addresses.some((a) => isNonPublicAddress(a.address)) ? { ok: false, code: 'private_address' } : parsed;
}
