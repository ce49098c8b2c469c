import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * Outbound webhooks must not become a way into the network the ledger runs in: an
 * endpoint may only point at a public address. Checked at registration (the URL and
 * what its host resolves to) and again on every delivery, on the very addresses the
 * socket connects to (a DNS answer can change between the two).
 */
export class UrlRefusedError extends Error {
  override readonly name = 'UrlRefusedError';
}

/** Every range but `unicast`: loopback, private, link-local (169.254.169.254, cloud metadata), unique-local, CGNAT, multicast, reserved… */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) {
    parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  }
  return parsed.range() === 'unicast';
}

/** The URL's shape: http or https, a host, no credentials in it. Throws UrlRefusedError. */
export function checkUrlShape(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UrlRefusedError('not a URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new UrlRefusedError(`the scheme ${parsed.protocol} is not allowed: http or https only`);
  }
  if (parsed.username !== '' || parsed.password !== '') throw new UrlRefusedError('credentials in the URL');
  if (parsed.hostname === '') throw new UrlRefusedError('no host');
  return parsed;
}

/** The host without IPv6 brackets. */
export function hostOf(url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
}

/**
 * The URL is refused unless its host is a public address or resolves only to public ones.
 * `allowPrivate` (LEDGER_OUTBOUND_ALLOW_PRIVATE) skips the address check, not the shape's.
 */
export async function checkEndpointUrl(url: string, allowPrivate: boolean): Promise<void> {
  const parsed = checkUrlShape(url);
  if (allowPrivate) return;
  const host = hostOf(parsed);
  const addresses = isIP(host) ? [host] : await resolveAll(host);
  const refused = addresses.find((address) => !isPublicAddress(address));
  if (refused !== undefined) {
    throw new UrlRefusedError(`${host} is or resolves to ${refused}, a loopback, private or link-local address`);
  }
}

function resolveAll(host: string): Promise<string[]> {
  return new Promise((resolve, reject) =>
    dnsLookup(host, { all: true, verbatim: true }, (error, addresses: LookupAddress[]) => {
      if (error) reject(new UrlRefusedError(`${host} does not resolve (${error.code ?? error.message})`));
      else resolve(addresses.map((a) => a.address));
    }),
  );
}

/**
 * A `lookup` for http.request that refuses a host resolving to any non-public address,
 * so the connection is made only to an address that was checked.
 */
export function guardedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '', 0);
      const refused = allowPrivate ? undefined : addresses.find((a) => !isPublicAddress(a.address));
      if (refused) {
        return callback(new UrlRefusedError(`${hostname} resolves to ${refused.address}, not a public address`), '', 0);
      }
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      const first = addresses[0]!;
      callback(null, first.address, first.family);
    });
  };
}
