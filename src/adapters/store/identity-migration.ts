import { mergeCounters, migrationFold } from '../../ports/identity-names.js';

/*
 * The upgrade to canonical identities (README "Identities"), planned once for
 * every store: the stores only read their rows and apply the plan.
 *
 * - Sessions: a local session already carries the account's stored name (the
 *   local provider always answered with it) and is kept; sessions of every
 *   other source carry the name as typed, which cannot be mapped to the
 *   directory's or the OS's name without asking it: they are ended (their users
 *   log in again once). A local account named like a qualified identity
 *   (`ldap:eve`, made before such names were refused) becomes `local:ldap:eve`
 *   in the SQL stores; Redis ends such a session instead (rewriting its JSON in
 *   Lua would round its times).
 * - Account failure counters and trusted login sources, kept under typed names,
 *   are re-keyed by {@link migrationFold}; counters that meet under one key are
 *   merged (every failure counted, the earliest run start, the longest lock), so
 *   no failure and no lock is lost.
 */

/** Sources whose sessions survive the upgrade: their stored names already were canonical. */
export const KEPT_SESSION_SOURCES = ['local'] as const;

export interface CounterRow {
  subject: string;
  count: number;
  firstAt: number;
  lockedUntil: number;
}

export interface SourceRow {
  username: string;
  source: string;
  at: number;
}

/** Counters to delete (by subject) and to write, for the rows whose key changes or that merge. */
export function planCounters(rows: readonly CounterRow[]): { remove: string[]; put: CounterRow[] } {
  const groups = new Map<string, CounterRow[]>();
  for (const r of rows) {
    const k = migrationFold(r.subject);
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  const remove: string[] = [];
  const put: CounterRow[] = [];
  for (const [k, g] of groups) {
    if (g.length === 1 && g[0]!.subject === k) continue;
    for (const r of g) remove.push(r.subject);
    put.push({ subject: k, ...mergeCounters(g) });
  }
  return { remove, put };
}

/** Trusted sources to delete and to write: re-keyed by the folded name, the latest success kept. */
export function planSources(rows: readonly SourceRow[]): { remove: SourceRow[]; put: SourceRow[] } {
  const groups = new Map<string, SourceRow[]>();
  for (const r of rows) {
    const k = `${migrationFold(r.username)}\n${r.source}`;
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  const remove: SourceRow[] = [];
  const put: SourceRow[] = [];
  for (const g of groups.values()) {
    const username = migrationFold(g[0]!.username);
    if (g.length === 1 && g[0]!.username === username) continue;
    remove.push(...g);
    put.push({ username, source: g[0]!.source, at: Math.max(...g.map((r) => r.at)) });
  }
  return { remove, put };
}
