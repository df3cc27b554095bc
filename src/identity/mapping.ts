/**
 * Roles and organizations of an externally authenticated user (OS account or
 * directory user), from the groups the source reported and the configured maps.
 */
export interface GroupMapping {
  /** Group name (or, for directories, full DN) → roles. Keys match case-insensitively. */
  groupRoles: Record<string, string[]>;
  /** Group name (or DN) → organizations. */
  groupOrganizations: Record<string, string[]>;
  /** Organizations of a user whose groups map to none. */
  defaultOrganizations: string[];
}

export interface MappedGroups {
  roles: string[];
  organizations: string[];
}

/**
 * Maps groups to roles and organizations. A group matches a key when any of its
 * names (e.g. `cn` and full DN) equals the key, ignoring case. The result keeps
 * the order of the configuration, without duplicates, so it is stable across
 * logins whatever order the source lists groups in.
 *
 * @example
 * mapGroups([['sudo']], { groupRoles: { sudo: ['System Administrator'] }, groupOrganizations: {}, defaultOrganizations: ['DEFAULT'] })
 * // → { roles: ['System Administrator'], organizations: ['DEFAULT'] }
 */
export function mapGroups(groups: readonly (readonly string[])[], m: GroupMapping): MappedGroups {
  const names = new Set<string>();
  for (const aliases of groups) for (const n of aliases) names.add(fold(n));
  const pick = (map: Record<string, string[]>): string[] => {
    const out: string[] = [];
    for (const [key, values] of Object.entries(map)) {
      if (!names.has(fold(key))) continue;
      for (const v of values) if (!out.includes(v)) out.push(v);
    }
    return out;
  };
  const organizations = pick(m.groupOrganizations);
  return { roles: pick(m.groupRoles), organizations: organizations.length > 0 ? organizations : [...m.defaultOrganizations] };
}

function fold(s: string): string {
  return s.normalize('NFC').toLowerCase();
}
