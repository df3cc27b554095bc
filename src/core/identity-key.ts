/**
 * One person, one name (README "Identities"). Two different things are keyed here:
 *
 * - the **canonical identity** a session, the audit, listings, the concurrency
 *   limit and "log out everywhere" use: what the identity source says the user
 *   is, whatever they typed — `alice` for a local account (the stored name),
 *   `ldap:alice` for a directory entry (its stored user attribute), `pam:alice`
 *   for an OS account. Two sources that know the same name are two identities.
 * - the **failure key** the pre-bind brute-force counter, the lock and the trusted
 *   sources use, computed from the typed name alone (the source has not been asked
 *   yet, or refused to say): {@link foldName}.
 */

/** What an identity source told about the user; the fields of a Principal that name it. */
export interface NamedPrincipal {
  username: string;
  source: string;
}

/** The identity sources whose names are qualified with `source:`; local accounts keep their bare names. */
const QUALIFIED = /^([a-z][a-z0-9_-]{0,31}):(.+)$/s;

/**
 * The canonical identity of a principal: the local account's stored name, or
 * `<source>:<name as the source stores it>` for every other source.
 *
 * @example identityOf({ username: 'alice', source: 'ldap' }) === 'ldap:alice'
 * @example identityOf({ username: 'alice', source: 'local' }) === 'alice'
 */
export function identityOf(p: NamedPrincipal): string {
  // A local account created as `ldap:bob` (before such names were refused) must not become the directory's bob.
  if (p.source === 'local' && !looksQualified(p.username)) return p.username;
  return `${p.source}:${p.username}`;
}

/** Identity sources whose prefix a local account name may not carry (`ldap:bob` would read as the directory's bob). */
export const RESERVED_PREFIXES = ['local', 'pam', 'ldap'] as const;

/** Whether a name starts like a qualified identity (`ldap:…`). */
export function looksQualified(name: string): boolean {
  const m = QUALIFIED.exec(name);
  return m !== null && (RESERVED_PREFIXES as readonly string[]).includes(m[1]!);
}

/**
 * The identity an administrator names (CLI, admin API): `ldap:alice` and
 * `pam:alice` as they are, `local:alice` and a bare `alice` as the local
 * identity `alice`. `sources` are the identity sources that qualify names.
 *
 * @example parseIdentity('local:alice', ['pam', 'ldap']) // → { source: 'local', username: 'alice', identity: 'alice' }
 */
export function parseIdentity(name: string, sources: readonly string[]): { source: string; username: string; identity: string } {
  const m = QUALIFIED.exec(name);
  if (m && (m[1] === 'local' || sources.includes(m[1]!))) {
    const p = { source: m[1]!, username: m[2]! };
    return { ...p, identity: identityOf(p) };
  }
  return { source: 'local', username: name, identity: name };
}

/**
 * Unicode case folding (full, locale-independent) of an NFC string: upper- then
 * lower-casing maps every case variant of a letter to one form (`ß`, `ẞ`, `SS`
 * and `ss` → `ss`; `ς`, `Σ` and `σ` → `σ`), like the Unicode CaseFolding table's
 * full mappings; NFC before and after, so composed and decomposed accents agree.
 * It may merge a few names case folding keeps apart (dotless `ı` and `i`): for a
 * failure counter that errs on the side of counting more, never less.
 */
export function caseFold(s: string): string {
  return s.normalize('NFC').toUpperCase().toLowerCase().normalize('NFC');
}

/**
 * The pre-bind failure key of a typed name: {@link caseFold}, then `u@domain`
 * and `DOMAIN\u` reduced to `u` when the domain (case-folded) is one of the
 * configured `identity.domains`. Every spelling of one person shares one key,
 * one counter and one lock. A domain that is not configured stays in the key
 * (`alice@elsewhere` is somebody else to this service, and the directory
 * refuses it).
 *
 * @example foldName('VSPHERE.LOCAL\\Administrator', ['vsphere.local']) === 'administrator'
 * @example foldName('ALICE@vsphere.local', ['vsphere.local']) === 'alice'
 */
export function foldName(typed: string, domains: readonly string[]): string {
  const f = caseFold(typed);
  if (domains.length === 0) return f;
  const at = f.lastIndexOf('@');
  if (at > 0 && at < f.length - 1 && inDomains(f.slice(at + 1), domains)) return f.slice(0, at);
  const bs = f.indexOf('\\');
  if (bs > 0 && bs < f.length - 1 && inDomains(f.slice(0, bs), domains)) return f.slice(bs + 1);
  return f;
}

function inDomains(folded: string, domains: readonly string[]): boolean {
  return domains.some((d) => caseFold(d) === folded);
}

/**
 * The failure key the store migrations give to counters and trusted sources
 * stored under typed names before this rule: {@link caseFold}, and a domain
 * part (`@d`, `D\`) removed whatever the domain, since a migration cannot read
 * the configuration. It merges at least what {@link foldName} merges, so no
 * failure and no lock is lost on upgrade (it may merge more: fail closed).
 */
export function migrationFold(subject: string): string {
  return foldName(subject, []).replace(/^[^\\]+\\(?=.)/s, '').replace(/@[^@]+$/s, (m, off: number) => (off > 0 ? '' : m));
}

/** Reduces a set of failure counters that fold to one key: every failure counted, the earliest run start, the longest lock. */
export function mergeCounters(rows: readonly { count: number; firstAt: number; lockedUntil: number }[]): { count: number; firstAt: number; lockedUntil: number } {
  return {
    count: rows.reduce((n, r) => n + r.count, 0),
    firstAt: Math.min(...rows.map((r) => r.firstAt)),
    lockedUntil: Math.max(...rows.map((r) => r.lockedUntil)),
  };
}
