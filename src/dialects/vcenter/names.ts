/**
 * User names as vCenter users type them: `administrator@vsphere.local`,
 * `VSPHERE.LOCAL\administrator`, or a bare `administrator`. Only the domain is
 * handled here (config `vcenter.domains`); case folding and canonical identities
 * are the identity layer's business.
 */

/** The name without its domain, and the domain (`''` when none): `u@d` splits at the last `@`, `D\u` at the first `\`. */
export function splitDomain(typed: string): { user: string; domain: string } {
  const bs = typed.indexOf('\\');
  if (bs > 0) return { user: typed.slice(bs + 1), domain: typed.slice(0, bs) };
  const at = typed.lastIndexOf('@');
  if (at > 0) return { user: typed.slice(0, at), domain: typed.slice(at + 1) };
  return { user: typed, domain: '' };
}

/**
 * Which identity source checks a typed name, and under which name. A domain listed
 * in `domains` (ignoring case) is removed and its source answers; any other name,
 * with or without a domain, goes as typed to `fallback`.
 *
 * @example mapUsername('VSPHERE.LOCAL\\admin', 'ldap', { 'vsphere.local': 'local' }) // { provider: 'local', username: 'admin' }
 */
export function mapUsername(typed: string, fallback: string, domains: Readonly<Record<string, string>>): { provider: string; username: string } {
  const { user, domain } = splitDomain(typed);
  if (domain !== '') {
    const lower = domain.toLowerCase();
    for (const [d, provider] of Object.entries(domains)) {
      if (d.toLowerCase() === lower) return { provider, username: user };
    }
  }
  return { provider: fallback, username: typed };
}

/**
 * How `GET /api/session` names the user: fully qualified, as vCenter does
 * (`administrator@vsphere.local`). A stored name without a domain gets the first
 * domain in `domains` whose source authenticated it; otherwise it is shown as stored.
 * A name the identity layer qualifies by its source (`ldap:alice` from `ldap`) is
 * shown under that source's domain instead (`alice@vsphere.local`): the domain is
 * vCenter's way of naming the source.
 */
export function domainDisplay(domains: Readonly<Record<string, string>>): (username: string, source: string) => string {
  const bySource = new Map<string, string>();
  for (const [domain, provider] of Object.entries(domains)) {
    for (const name of provider.split(',')) if (!bySource.has(name)) bySource.set(name, domain);
  }
  return (username, source) => {
    if (username.includes('@') || username.includes('\\')) return username;
    const domain = bySource.get(source);
    if (domain === undefined) return username;
    const bare = username.startsWith(`${source}:`) ? username.slice(source.length + 1) : username;
    return `${bare}@${domain}`;
  };
}
