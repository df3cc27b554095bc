import type { IncomingHttpHeaders } from 'node:http';

/** Where a session token was found (see {@link findSessionToken} for the order). */
export type CredentialSource = 'hcx' | 'redfish' | 'vcenter' | 'bearer' | 'cookie';

export interface FoundCredential {
  source: CredentialSource;
  token: string;
}

export interface CredentialOptions {
  /** Name of the XClarity session cookie (config.lxca.sessionCookie). */
  sessionCookie: string;
}

/** The header names, in the order they are consulted (the cookie comes last). */
export const TOKEN_HEADERS: readonly { header: string; source: CredentialSource }[] = [
  { header: 'x-hm-authorization', source: 'hcx' },
  { header: 'x-auth-token', source: 'redfish' },
  { header: 'vmware-api-session-id', source: 'vcenter' },
];

/** Longest value looked at; tokens are 43 characters, anything far longer is not one. */
const MAX_VALUE = 4096;

/**
 * "Find a session token in this request": THE one list every dialect and the
 * gateway consult, so a session made through any dialect is valid everywhere by
 * construction. Tokens are opaque: finding one says nothing about whether it is
 * live (the core decides that); a value that is present but not token-shaped is
 * still returned, so the caller answers "invalid session" rather than "no
 * credential".
 *
 * Order (the first present wins; the others are not looked at):
 *
 * 1. `x-hm-authorization`      HCX
 * 2. `x-auth-token`            Redfish
 * 3. `vmware-api-session-id`   vCenter Automation API
 * 4. `Authorization: Bearer …` (RFC 6750; any other scheme is not a session token)
 * 5. the XClarity session cookie (its name is `lxca.sessionCookie`, JSESSIONID by default)
 *
 * Explicit headers come before the cookie: a header is set by the client program
 * on purpose, a cookie is sent by a browser on its own (ambient authority), so a
 * script that names a token gets that session even if the browser also holds one.
 * A header sent twice with different values (Node gives an array) counts as absent:
 * the request is ambiguous, and "which one" must not depend on the proxy.
 *
 * @example findSessionToken({ 'x-auth-token': 't' }, { sessionCookie: 'JSESSIONID' }) // { source: 'redfish', token: 't' }
 */
export function findSessionToken(headers: IncomingHttpHeaders, opts: CredentialOptions): FoundCredential | undefined {
  for (const { header, source } of TOKEN_HEADERS) {
    const v = headers[header];
    if (typeof v === 'string') return { source, token: v.length > MAX_VALUE ? '' : v.trim() };
  }
  const bearer = bearerToken(headers.authorization);
  if (bearer !== undefined) return { source: 'bearer', token: bearer };
  const cookie = headers.cookie;
  if (typeof cookie === 'string') {
    const token = cookieValue(cookie, opts.sessionCookie);
    if (token !== undefined) return { source: 'cookie', token };
  }
  return undefined;
}

/** The token of `Authorization: Bearer <token>`, or undefined for any other (or no) scheme. */
export function bearerToken(auth: string | undefined): string | undefined {
  if (auth === undefined || auth.length > MAX_VALUE) return undefined;
  if (auth.length < 7 || auth.slice(0, 7).toLowerCase() !== 'bearer ') return undefined;
  return auth.slice(7).trim();
}

/**
 * One cookie's value from a Cookie header (RFC 6265 §5.4 `name=value; …`), without
 * parsing the others: the first cookie of that name wins, as browsers send the
 * most specific path first. Quotes around the value are removed; the value is not
 * percent-decoded (session tokens are base64url).
 */
export function cookieValue(header: string, name: string): string | undefined {
  if (header.length > 16384) return undefined;
  let i = 0;
  while (i < header.length) {
    while (header.charCodeAt(i) === 32 || header.charCodeAt(i) === 9) i++;
    let end = header.indexOf(';', i);
    if (end < 0) end = header.length;
    const eq = header.indexOf('=', i);
    if (eq > i && eq < end && header.slice(i, eq).trim() === name) {
      let v = header.slice(eq + 1, end).trim();
      if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
      return v;
    }
    i = end + 1;
  }
  return undefined;
}
