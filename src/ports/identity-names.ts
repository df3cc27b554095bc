/**
 * The naming rule of identities shared by the core (failure keys) and the store
 * adapters (their migrations re-key counters kept under typed names): pure
 * functions, no imports. See src/core/identity-key.ts and README "Identities".
 */

/**
 * Unicode case folding (full, locale-independent) of an NFC string: lower-, upper-
 * then lower-casing maps every case variant of a letter to one form (`ß`, `ẞ`, `SS`
 * and `ss` → `ss`; `ς`, `Σ` and `σ` → `σ`), like the Unicode CaseFolding table's
 * full mappings; NFC before and after, so composed and decomposed accents agree.
 * It may merge a few names case folding keeps apart (dotless `ı` and `i`): for a
 * failure counter that errs on the side of counting more, never less.
 */
export function caseFold(s: string): string {
  return s.normalize('NFC').toLowerCase().toUpperCase().toLowerCase().normalize('NFC');
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
