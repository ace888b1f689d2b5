/**
 * What RFC 9112 says a server MUST refuse, checked in the front before routing: a request with
 * several Host fields (§3.2: 400), and a request-target in none of the forms it allows (§3.2):
 * origin-form (`/path?query`), absolute-form (`http://host/path`), authority-form (CONNECT only,
 * answered in connect.ts) and asterisk-form (`*`, OPTIONS only, answered here with the server's
 * methods). Node and fastify serve `GET *items/7` as `/items/7` and keep the last of two Hosts.
 * The common case costs one character test and one pass over the raw header names.
 */
import { METHODS } from '../router.js';

/** The server's methods, for `OPTIONS *` and a refused CONNECT. */
export const SERVER_ALLOW = METHODS.join(', ');

/** How the front answers a request it must not route, or null to route it. */
export type TargetRefusal = { readonly status: 204; readonly allow: string } | { readonly status: 400; readonly message: string };

const ABSOLUTE_FORM = /^https?:\/\//i;

/** True when the raw header list names Host more than once. */
function severalHosts(rawHeaders: readonly string[]): boolean {
  let hosts = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    // The usual spellings first: toLowerCase() would allocate a string per request.
    if (name.length === 4 && (name === 'Host' || name === 'host' || name.toLowerCase() === 'host') && ++hosts > 1) return true;
  }
  return false;
}

/**
 * The answer to a request the front must not route (or null): 400 for several Hosts or a
 * request-target in no allowed form, 204 with Allow for `OPTIONS *`.
 *
 * @example
 * refusal('GET', '*items/7', ['Host', 'a']) // { status: 400, message: 'the request target "*items/7" is …' }
 */
export function refusal(method: string, url: string, rawHeaders: readonly string[]): TargetRefusal | null {
  if (severalHosts(rawHeaders)) return { status: 400, message: 'the request has several Host header fields; send exactly one (RFC 9112 §3.2)' };
  if (url.charCodeAt(0) === 47 /* "/" */ || ABSOLUTE_FORM.test(url)) return null;
  if (url === '*' && method === 'OPTIONS') return { status: 204, allow: SERVER_ALLOW };
  return {
    status: 400,
    message: `the request target ${JSON.stringify(url.slice(0, 100))} is not origin-form (/path), absolute-form (http://host/path), or * for OPTIONS (RFC 9112 §3.2)`,
  };
}
