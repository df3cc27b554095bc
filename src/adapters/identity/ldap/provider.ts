import { NoSuchObjectError, type Entry } from 'ldapts';
import type { Logger } from '../../../core/logger.js';
import { IdentitySourceError, type AuthOutcome } from '../../../ports/identity.js';
import { mapGroups, type GroupMapping } from '../../../identity/mapping.js';
import { toAuthOutcome, type CheckOutcome, type CheckingProvider } from '../../../identity/outcome.js';
import { fillFilter, firstRdnValue, placeholders, splitUsername } from './filter.js';
import { InvalidCredentialsError, LdapPool, urlHost, type LdapConnection, type LdapTransportOptions } from './pool.js';

/** A rule that marks a directory account as disabled. */
export interface DisabledRule {
  attribute: string;
  /** Disabled when the attribute has this value (case-insensitive); without `equals`/`bitmask`, when it is present at all. */
  equals?: string | undefined;
  /** Disabled when the attribute, as an integer, has any of these bits (AD `userAccountControl` bit 2 = ACCOUNTDISABLE). */
  bitmask?: number | undefined;
}

export interface LdapProviderOptions {
  transport: LdapTransportOptions;
  /** Connections per pool (one pool searches as the service account, one checks user passwords). */
  poolSize: number;
  /** Time allowed for a whole login (search, password check, groups), in ms. */
  timeoutMs: number;
  bindDN: string;
  bindPassword: string;
  userBase: string;
  userScope: 'sub' | 'one';
  /** e.g. `(&(objectClass=inetOrgPerson)(uid={user}))`; placeholders are RFC 4515-escaped. */
  userFilter: string;
  /** When set, a name with a domain (`user@domain`, `DOMAIN\user`) must have one of these (case-insensitive). */
  domains?: string[] | undefined;
  /**
   * The attribute whose stored value names the user (the canonical identity
   * `ldap:<value>`, whatever spelling was typed); default `uid`. An entry without
   * it is named by its DN.
   */
  userAttribute?: string | undefined;
  groups: {
    mode: 'search' | 'memberOf';
    base: string;
    /** For mode search, e.g. `(|(member={dn})(uniqueMember={dn}))`. */
    filter: string;
    /** Levels of groups-in-groups followed beyond the direct ones (0 = direct only). */
    nestedDepth: number;
    /** Most groups collected for one user. */
    maxGroups: number;
  };
  disabledWhen: DisabledRule[];
  mapping: GroupMapping;
  enterprise: string;
  logger?: Logger | undefined;
}

const MEMBER_OF = 'memberOf';

/**
 * A directory over LDAP (vSphere SSO's identity sources: vsphere.local,
 * Active Directory, OpenLDAP). Each login: search the user as the service
 * account, refuse disabled accounts, bind as the user's DN with the password,
 * then read the user's groups (nested ones to a bounded depth) and map them to
 * roles and organizations. Everything is re-read at each login.
 */
export class LdapProvider implements CheckingProvider {
  readonly name = 'ldap';
  private readonly search: LdapPool;
  private readonly binds: LdapPool;

  constructor(private readonly o: LdapProviderOptions) {
    this.search = new LdapPool({
      transport: o.transport,
      size: o.poolSize,
      prepare: async (c) => {
        try {
          await c.client.bind(o.bindDN, o.bindPassword);
        } catch (e) {
          if (e instanceof InvalidCredentialsError) {
            throw new IdentitySourceError(this.name, `${c.url} refused the service account's bind (check identity.ldap.bindDN and its password)`, { cause: e });
          }
          throw e;
        }
      },
    });
    this.binds = new LdapPool({ transport: o.transport, size: o.poolSize });
  }

  async authenticate(username: string, password: string): Promise<AuthOutcome> {
    return toAuthOutcome(await this.check(username, password));
  }

  async check(username: string, password: string): Promise<CheckOutcome> {
    // An empty password would make a "simple bind" anonymous: it would succeed for any DN.
    if (password.length === 0) return { ok: false, reason: 'invalid_credentials', detail: 'empty password (never sent: it would be an anonymous bind)' };
    const { user, domain } = splitUsername(username);
    if (user.length === 0) return { ok: false, reason: 'unknown_user', detail: 'empty user name' };
    if (domain && !this.domainAllowed(domain)) {
      return { ok: false, reason: 'unknown_user', detail: `domain "${domain}" is not accepted (identity.ldap.domains)` };
    }
    const deadline = Date.now() + this.o.timeoutMs;

    const filter = fillFilter(this.o.userFilter, { username, user, domain });
    const wanted = [this.userAttribute, ...this.o.disabledWhen.map((r) => r.attribute), ...(this.o.groups.mode === 'memberOf' ? [MEMBER_OF] : [])];
    const found = await this.search.use(deadline, async (c) => {
      const r = await c.client.search(this.o.userBase, { scope: this.o.userScope, filter, sizeLimit: 2, attributes: wanted });
      return r.searchEntries;
    });
    if (found.length === 0) return { ok: false, reason: 'unknown_user', detail: `no entry matches ${filter} under ${this.o.userBase}` };
    if (found.length > 1) {
      this.o.logger?.warn({ event: 'ldap.ambiguous_user', user: username, filter }, 'the user filter matches more than one entry; login refused');
      return { ok: false, reason: 'invalid_credentials', detail: `more than one entry matches ${filter}: the filter must match one user` };
    }
    const entry = found[0]!;
    // The name as the directory stores it, not as typed: `ALICE` and `alice@domain` are the entry's `alice`.
    const identity = { username: values(entry, this.userAttribute)[0] ?? entry.dn, source: this.name };
    const disabledBy = this.o.disabledWhen.find((r) => isDisabled(entry, r));
    if (disabledBy) {
      return { ok: false, reason: 'disabled', identity, detail: `${entry.dn} is disabled (${describeRule(disabledBy)})` };
    }

    const bound = await this.binds.use(deadline, async (c) => {
      try {
        await c.client.bind(entry.dn, password);
        return c.url;
      } catch (e) {
        if (e instanceof InvalidCredentialsError) return undefined;
        throw e;
      }
    });
    if (bound === undefined) return { ok: false, reason: 'invalid_credentials', identity, detail: `${entry.dn}: wrong password (the directory refused the bind)` };

    const groups = await this.search.use(deadline, (c) => this.groupsOf(c, entry, { username, user, domain }));
    const mapped = mapGroups(groups.map((dn) => [firstRdnValue(dn), dn]), this.o.mapping);
    return {
      ok: true,
      principal: {
        username: identity.username,
        roles: mapped.roles,
        organizations: mapped.organizations,
        enterprise: this.o.enterprise,
        mustChangePassword: false,
        source: this.name,
        authServer: urlHost(bound),
      },
      groups,
      detail: `authenticated as ${entry.dn} (identity ldap:${identity.username}) by ${bound}`,
    };
  }

  /** DNs of the user's groups: direct ones, then groups of those groups up to nestedDepth levels. */
  private async groupsOf(c: LdapConnection, entry: Entry, names: { username: string; user: string; domain: string }): Promise<string[]> {
    const g = this.o.groups;
    const found = new Map<string, string>(); // lower-case DN → DN
    const add = (dns: string[]): string[] => {
      const fresh: string[] = [];
      for (const dn of dns) {
        const k = dn.toLowerCase();
        if (found.has(k) || found.size >= g.maxGroups) continue;
        found.set(k, dn);
        fresh.push(dn);
      }
      return fresh;
    };

    if (g.mode === 'memberOf') {
      let level = add(values(entry, MEMBER_OF));
      for (let depth = 0; depth < g.nestedDepth && level.length; depth++) {
        const next: string[] = [];
        for (const dn of level) {
          try {
            const r = await c.client.search(dn, { scope: 'base', filter: '(objectClass=*)', attributes: [MEMBER_OF] });
            for (const e of r.searchEntries) next.push(...values(e, MEMBER_OF));
          } catch (e) {
            if (!(e instanceof NoSuchObjectError)) throw e; // a dangling memberOf value: nothing above it
          }
        }
        level = add(next);
      }
      return [...found.values()];
    }

    const search = async (filter: string) =>
      (await c.client.search(g.base, { scope: 'sub', filter, sizeLimit: g.maxGroups, attributes: ['1.1'] })).searchEntries.map((e) => e.dn);
    let level = add(await search(fillFilter(g.filter, { ...names, dn: entry.dn })));
    if (!placeholders(g.filter).includes('dn')) return [...found.values()];
    for (let depth = 0; depth < g.nestedDepth && level.length; depth++) {
      const parts = level.map((dn) => fillFilter(g.filter, { ...names, dn }));
      level = add(await search(parts.length === 1 ? parts[0]! : `(|${parts.join('')})`));
    }
    return [...found.values()];
  }

  /**
   * A filter on {user} alone would find `alice` for `alice@anything`: a domain is
   * then accepted only when listed in `domains`. Filters that put {username} or
   * {domain} in front of the directory let the directory judge it.
   */
  private get userAttribute(): string {
    return this.o.userAttribute ?? 'uid';
  }

  private domainAllowed(domain: string): boolean {
    if (this.o.domains) return this.o.domains.some((d) => d.toLowerCase() === domain.toLowerCase());
    const used = placeholders(this.o.userFilter);
    return used.includes('username') || used.includes('domain');
  }

  close(): void {
    this.search.close();
    this.binds.close();
  }

  /** Connection pool figures, for tests and the benchmark. */
  get stats() {
    return { search: this.search.stats, binds: this.binds.stats };
  }
}

/** An attribute's values as strings, whatever the case of its name in the entry. */
function values(entry: Entry, name: string): string[] {
  const lc = name.toLowerCase();
  for (const [k, v] of Object.entries(entry)) {
    if (k.toLowerCase() !== lc || k === 'dn') continue;
    const list = Array.isArray(v) ? v : [v];
    return list.map((x) => (Buffer.isBuffer(x) ? x.toString('utf8') : String(x)));
  }
  return [];
}

function isDisabled(entry: Entry, r: DisabledRule): boolean {
  const vs = values(entry, r.attribute);
  if (vs.length === 0) return false;
  if (r.bitmask !== undefined) {
    return vs.some((v) => /^-?\d+$/.test(v.trim()) && (BigInt(v.trim()) & BigInt(r.bitmask!)) !== 0n);
  }
  if (r.equals !== undefined) return vs.some((v) => v.toLowerCase() === r.equals!.toLowerCase());
  return true;
}

function describeRule(r: DisabledRule): string {
  if (r.bitmask !== undefined) return `${r.attribute} has bit ${r.bitmask}`;
  if (r.equals !== undefined) return `${r.attribute}=${r.equals}`;
  return `${r.attribute} is present`;
}
