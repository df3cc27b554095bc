/**
 * Return URLs (`rd=`) a login page may send a browser back to, without becoming an
 * open redirect: a path on this service, or an http(s) URL whose host is one of
 * the allowed domains or under one. Nothing else: no other scheme, no user info,
 * no scheme-relative `//host`, no backslashes (browsers read `/\host` as `//host`),
 * no control characters.
 */

/** Longest return URL accepted (browsers and proxies cap URLs at a few kB). */
export const MAX_RETURN_URL = 2048;

/** Whether `host` (lowercase, no port) is `domain` or a host under it. */
export function hostInDomain(host: string, domain: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  const d = domain.toLowerCase().replace(/^\./, '');
  return h === d || h.endsWith(`.${d}`);
}

export type ReturnUrlCheck = { ok: true; url: string } | { ok: false; reason: string };

/**
 * Checks a return URL against the allowed domains.
 *
 * @example checkReturnUrl('https://app.example.com/x', ['example.com']) // { ok: true, url: 'https://app.example.com/x' }
 * @example checkReturnUrl('//evil.test/', ['example.com']).ok === false
 */
export function checkReturnUrl(raw: string, allowedDomains: readonly string[]): ReturnUrlCheck {
  if (raw.length > MAX_RETURN_URL) return { ok: false, reason: `longer than ${MAX_RETURN_URL} characters` };
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\]/.test(raw)) return { ok: false, reason: 'contains a control character or a backslash' };
  if (raw.startsWith('/')) {
    if (raw.startsWith('//')) return { ok: false, reason: 'a scheme-relative URL names another host' };
    // Resolve against a placeholder origin: the path must stay on it.
    const base = 'https://portcullis.invalid';
    let u: URL;
    try {
      u = new URL(raw, base);
    } catch {
      return { ok: false, reason: 'is not a valid path' };
    }
    if (u.origin !== base) return { ok: false, reason: 'leaves this service' };
    return { ok: true, url: u.pathname + u.search + u.hash };
  }
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return { ok: false, reason: 'is neither a path nor an absolute URL' };
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return { ok: false, reason: `scheme ${u.protocol} is not allowed` };
  if (u.username !== '' || u.password !== '') return { ok: false, reason: 'carries user information' };
  if (!allowedDomains.some((d) => hostInDomain(u.hostname, d))) return { ok: false, reason: `host ${u.hostname} is not an allowed return domain` };
  return { ok: true, url: u.href };
}
