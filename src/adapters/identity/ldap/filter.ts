/**
 * Escapes a value for use inside an LDAP search filter (RFC 4515 §3): `*`, `(`,
 * `)`, `\` and NUL become `\2a`, `\28`, `\29`, `\5c`, `\00`. Other characters,
 * UTF-8 included, are allowed as they are.
 *
 * @example
 * escapeFilterValue('*)(uid=*') // → '\2a\29\28uid=\2a'
 */
export function escapeFilterValue(value: string): string {
  return value.replace(/[*()\\\u0000]/g, (c) => '\\' + c.charCodeAt(0).toString(16).padStart(2, '0'));
}

/** Placeholders a filter template may use; every value is escaped before it is put in. */
export interface FilterValues {
  /** The name as the user typed it, e.g. `alice@vsphere.local`. */
  username?: string;
  /** The name without its domain: `alice` for `alice@vsphere.local` or `VSPHERE\alice`. */
  user?: string;
  /** The domain part, or empty. */
  domain?: string;
  /** A distinguished name (group searches by member). */
  dn?: string;
}

const PLACEHOLDER = /\{(username|user|domain|dn)\}/g;

/**
 * Fills a filter template such as `(&(objectClass=person)(uid={user}))`. Each
 * placeholder is replaced by its RFC 4515-escaped value, so no input can change
 * the filter's structure.
 */
export function fillFilter(template: string, values: FilterValues): string {
  return template.replace(PLACEHOLDER, (_, key: keyof FilterValues) => {
    const v = values[key];
    if (v === undefined) throw new Error(`filter placeholder {${key}} has no value here`);
    return escapeFilterValue(v);
  });
}

/** The placeholders a template uses. */
export function placeholders(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((m) => m[1]!);
}

/** Splits `user@domain` and `DOMAIN\user` into their parts. */
export function splitUsername(username: string): { user: string; domain: string } {
  const at = username.lastIndexOf('@');
  if (at > 0) return { user: username.slice(0, at), domain: username.slice(at + 1) };
  const bs = username.indexOf('\\');
  if (bs > 0) return { user: username.slice(bs + 1), domain: username.slice(0, bs) };
  return { user: username, domain: '' };
}

/**
 * The value of a DN's first RDN (`Admins` for `cn=Admins,ou=Groups,dc=x`), with
 * RFC 4514 escapes undone. Used as a group's short name.
 */
export function firstRdnValue(dn: string): string {
  const eq = dn.indexOf('=');
  if (eq < 0) return dn;
  let out = '';
  const bytes: number[] = [];
  const flush = () => {
    if (bytes.length) out += Buffer.from(bytes.splice(0)).toString('utf8');
  };
  for (let i = eq + 1; i < dn.length; i++) {
    const c = dn[i]!;
    if (c === '\\' && i + 1 < dn.length) {
      const hex = dn.slice(i + 1, i + 3);
      if (/^[0-9a-fA-F]{2}$/.test(hex)) {
        bytes.push(parseInt(hex, 16));
        i += 2;
      } else {
        flush();
        out += dn[i + 1];
        i += 1;
      }
      continue;
    }
    if (c === ',' || c === '+') break;
    flush();
    out += c;
  }
  flush();
  return out.trim();
}
