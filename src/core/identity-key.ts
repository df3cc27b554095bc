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

export { caseFold, foldName, migrationFold, mergeCounters } from '../ports/identity-names.js';

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
