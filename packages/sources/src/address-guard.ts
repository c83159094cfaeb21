/**
 * Which network addresses an https:// notebook URL may reach. A notebook URL is user input, and
 * the service fetches it from inside the cluster: without a guard it reads loopback services,
 * cloud metadata (169.254.169.254) and anything on the private network (SSRF).
 *
 * Every address a host name resolves to is checked, and the connection goes to the checked
 * address itself (the guard is the socket's `lookup`), so a DNS answer that changes between the
 * check and the connect (rebinding) cannot slip through. Literal IPs in any spelling the URL
 * parser accepts (`0x7f.1`, `2130706433`, `[::ffff:127.0.0.1]`) are normalized by the WHATWG URL
 * parser and then classified by ipaddr.js, which also unwraps IPv4-mapped IPv6.
 *
 * Only global unicast addresses pass. Internal and test servers are allowed by name or range
 * through `NES_SOURCE_ALLOWED_HOSTS` (comma-separated host names, IPs or CIDR ranges).
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { SourceError } from './errors.ts';

export interface AllowList {
  hosts: ReadonlySet<string>;
  ranges: ReadonlyArray<[ipaddr.IPv4 | ipaddr.IPv6, number]>;
}

const EMPTY_ALLOW_LIST: AllowList = { hosts: new Set(), ranges: [] };

/** Parses `NES_SOURCE_ALLOWED_HOSTS`: host names, IPs and CIDR ranges, comma or space separated. */
export function parseAllowList(text: string | undefined): AllowList {
  const hosts = new Set<string>();
  const ranges: Array<[ipaddr.IPv4 | ipaddr.IPv6, number]> = [];
  for (const raw of (text ?? '').split(/[\s,]+/)) {
    const entry = raw.trim().toLowerCase();
    if (entry === '') continue;
    if (entry.includes('/')) {
      try {
        ranges.push(ipaddr.parseCIDR(entry));
      } catch {
        throw new SourceError(
          'invalid_source',
          `NES_SOURCE_ALLOWED_HOSTS: ${JSON.stringify(raw)} is not a CIDR range (e.g. 10.0.0.0/8)`,
        );
      }
    } else if (ipaddr.isValid(entry.replace(/^\[|\]$/g, ''))) {
      const address = ipaddr.process(entry.replace(/^\[|\]$/g, ''));
      ranges.push([address, address.kind() === 'ipv4' ? 32 : 128]);
    } else {
      hosts.add(entry.replace(/\.$/, ''));
    }
  }
  return { hosts, ranges };
}

function inAllowedRange(address: ipaddr.IPv4 | ipaddr.IPv6, allow: AllowList): boolean {
  return allow.ranges.some(
    ([range, bits]) => range.kind() === address.kind() && address.match(range, bits),
  );
}

/** The ipaddr.js range name when `ip` may not be fetched, null when it may. */
export function forbiddenRange(ip: string, allow: AllowList = EMPTY_ALLOW_LIST): string | null {
  let address: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    // process() turns ::ffff:127.0.0.1 into 127.0.0.1, so the mapped form is judged as IPv4.
    address = ipaddr.process(ip);
  } catch {
    return 'invalid';
  }
  if (inAllowedRange(address, allow)) return null;
  const range = address.range();
  return range === 'unicast' ? null : range;
}

function isHostAllowed(host: string, allow: AllowList): boolean {
  return allow.hosts.has(host.toLowerCase().replace(/\.$/, ''));
}

function refused(host: string, ip: string, range: string): SourceError {
  const what = ip === host ? ip : `${host} (${ip})`;
  return new SourceError(
    'forbidden_address',
    `${what} is a ${describeRange(range)} address; NES fetches notebooks only from public addresses (an internal server can be allowed with NES_SOURCE_ALLOWED_HOSTS)`,
    { details: { host, address: ip, range } },
  );
}

function describeRange(range: string): string {
  const names: Record<string, string> = {
    loopback: 'loopback',
    private: 'private-network',
    linkLocal: 'link-local (cloud metadata)',
    uniqueLocal: 'private-network (unique local)',
    carrierGradeNat: 'shared (carrier-grade NAT)',
    unspecified: 'unspecified',
    multicast: 'multicast',
    broadcast: 'broadcast',
    reserved: 'reserved',
  };
  return names[range] ?? `non-public (${range})`;
}

/**
 * Throws `forbidden_address` when the URL's host is a literal IP that may not be fetched. Host
 * names are checked when they resolve (`guardedLookup`).
 */
export function checkUrlHost(url: URL, allow: AllowList): void {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isHostAllowed(host, allow) || isIP(host) === 0) return;
  const range = forbiddenRange(host, allow);
  if (range !== null) throw refused(host, host, range);
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * A `lookup` for net/tls connect options: resolves every address, refuses the connection when
 * any of them is not public, and hands the socket exactly the addresses it checked.
 */
export function guardedLookup(allow: AllowList) {
  return (
    hostname: string,
    options: { all?: boolean; family?: number | string },
    callback: LookupCallback,
  ): void => {
    dnsLookup(hostname, { all: true, family: options.family as number }, (error, addresses) => {
      if (error) return callback(error, []);
      if (!isHostAllowed(hostname, allow)) {
        for (const { address } of addresses) {
          const range = forbiddenRange(address, allow);
          if (range !== null) return callback(refused(hostname, address, range) as never, []);
        }
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0];
      if (first === undefined) return callback(new Error(`${hostname} has no address`), []);
      callback(null, first.address, first.family);
    });
  };
}
