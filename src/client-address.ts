/**
 * Who the client is, behind the proxies TRUST_PROXY trusts (a PaaS router sets X-Forwarded-For,
 * -Host and -Proto): the same rules as fastify's `trustProxy`, with the same library
 * (@fastify/proxy-addr), worked out in the worker thread from the socket's peer address and the
 * headers, so the front pays nothing for it.
 */
import proxyAddr from '@fastify/proxy-addr';
import type { Settings } from '../config/settings.js';

/** Whether the proxy at `address`, `hop` hops from the server, is trusted. */
export type TrustFunction = (address: string, hop: number) => boolean;

/**
 * TRUST_PROXY as fastify's `trustProxy` takes it, and as a trust function (fastify's own mapping:
 * true trusts every hop, a number that many hops, a list those addresses and CIDRs).
 *
 * @example
 * const trust = trustFunction(settings.TRUST_PROXY); // TRUST_PROXY=1: only the router in front
 */
export function trustFunction(setting: Settings['TRUST_PROXY']): TrustFunction {
  if (setting === false) return () => false;
  if (setting === true) return () => true;
  if (typeof setting === 'number') return (_address, hop) => hop < setting;
  return proxyAddr.compile([...setting]);
}

/** The client address fields of one request. */
export interface ClientAddress {
  /** The client's address: the nearest untrusted one. */
  readonly ip: string;
  /** Every address, the socket's peer first, then X-Forwarded-For's right to left, up to the first untrusted. */
  readonly ips: readonly string[];
  /** The Host the client asked for (X-Forwarded-Host when the proxy is trusted), port included. */
  readonly host: string;
  /** `http` or `https` (X-Forwarded-Proto when the proxy is trusted). */
  readonly protocol: string;
}

/** The last value of a header a proxy chain may have appended to ("a, b, c" gives "c"). */
const lastEntry = (value: string): string => value.slice(value.lastIndexOf(',') + 1).trim();

/**
 * The client address fields from the socket's peer and the request headers.
 *
 * @example
 * clientAddress('10.0.0.2', { 'x-forwarded-for': '203.0.113.7', host: 'shop.example' }, trustFunction(1)).ip // '203.0.113.7'
 */
export function clientAddress(remoteAddress: string, headers: Readonly<Record<string, string>>, trust: TrustFunction): ClientAddress {
  // proxy-addr reads the peer from the request's socket and X-Forwarded-For from its headers.
  const ips = proxyAddr.all({ socket: { remoteAddress }, headers } as never, trust);
  const trusted = trust(remoteAddress, 0);
  const forwardedHost = headers['x-forwarded-host'];
  const forwardedProto = headers['x-forwarded-proto'];
  return {
    ip: ips[ips.length - 1] ?? remoteAddress,
    ips: Object.freeze([...ips]),
    host: trusted && forwardedHost ? lastEntry(forwardedHost) : (headers.host ?? ''),
    protocol: trusted && forwardedProto ? lastEntry(forwardedProto) : 'http',
  };
}
