import { pathPatternRegExp, type AccessKind, type AccessRuleConfig } from '../../config/gateway.js';

/** The parts of the original request the access rules look at. */
export interface RuleInput {
  /** Upper case. */
  method: string;
  /** Lower case, without the port. */
  hostname: string;
  /** Decoded and normalised (see {@link normalizePath}), without the query. */
  path: string;
}

export interface CompiledRule {
  /** 1-based position in gateway.rules. */
  index: number;
  /** `rule 3 "admin-ui"`: how the CLI and the logs name it. */
  label: string;
  access: AccessKind;
  roles: readonly string[] | undefined;
  source: AccessRuleConfig;
  matches(r: RuleInput): boolean;
}

/** What the rules decide for a request, before any session is looked at. */
export type RuleDecision =
  | { kind: 'anonymous'; rule: CompiledRule }
  | { kind: 'session'; rule: CompiledRule; roles: readonly string[] | 'any' }
  | { kind: 'deny'; rule: CompiledRule | undefined };

function hostMatcher(p: string): (h: string) => boolean {
  if (p === '*') return () => true;
  const lower = p.toLowerCase();
  if (lower.startsWith('*.')) {
    const suffix = lower.slice(1);
    return (h) => h.length > suffix.length && h.endsWith(suffix);
  }
  return (h) => h === lower;
}

export function compileRules(rules: readonly AccessRuleConfig[]): CompiledRule[] {
  return rules.map((r, i) => {
    const hosts = r.host.map(hostMatcher);
    const paths = r.path.map(pathPatternRegExp);
    const methods = r.methods ? new Set(r.methods) : undefined;
    const anyHost = r.host.includes('*');
    return {
      index: i + 1,
      label: `rule ${i + 1}${r.name ? ` "${r.name}"` : ''}`,
      access: r.access,
      roles: r.roles,
      source: r,
      matches: (q) =>
        (methods === undefined || methods.has(q.method)) && (anyHost || hosts.some((h) => h(q.hostname))) && paths.some((p) => p.test(q.path)),
    };
  });
}

/** The first matching rule decides; when none matches, the answer is deny. */
export function decide(rules: readonly CompiledRule[], q: RuleInput): RuleDecision {
  for (const rule of rules) {
    if (!rule.matches(q)) continue;
    switch (rule.access) {
      case 'anonymous':
        return { kind: 'anonymous', rule };
      case 'authenticated':
        return { kind: 'session', rule, roles: 'any' };
      case 'roles':
        return { kind: 'session', rule, roles: rule.roles ?? [] };
      case 'deny':
        return { kind: 'deny', rule };
    }
  }
  return { kind: 'deny', rule: undefined };
}

/**
 * The path the rules see: dot segments resolved (`/public/../admin` is `/admin`,
 * also when written `%2e%2e`), percent-decoding applied, path parameters
 * (`;jsessionid=…`) dropped from every segment, repeated slashes collapsed. Returns undefined for a path that cannot be decoded or that still
 * holds a dot segment, a backslash or a NUL after decoding (`%2f..%2f`) or once
 * path parameters are dropped (`/public/..;/admin`, as Java servers read it): such a
 * request is refused rather than matched, because the upstream may read it
 * differently than the rules would.
 *
 * @example normalizePath('/a/./b/../c%20d') === '/a/c d'
 */
export function normalizePath(raw: string): string | undefined {
  const q = raw.indexOf('?');
  // Repeated slashes first: `//host/x` resolved as a URL would name a host.
  const p = (q >= 0 ? raw.slice(0, q) : raw).replace(/\/{2,}/g, '/');
  if (!p.startsWith('/')) return undefined;
  let resolved: string;
  try {
    resolved = new URL(p, 'http://h').pathname;
  } catch {
    return undefined;
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(resolved);
  } catch {
    return undefined;
  }
  // Path parameters go, as Java servers (Tomcat, Jetty) drop them: there `/admin;x=1/a` is `/admin/a` and `/public/..;/admin` is `/admin`.
  const bare = decoded.includes(';') ? decoded.split('/').map((seg) => seg.split(';', 1)[0]).join('/') : decoded;
  if (bare.includes('\\') || bare.includes('\u0000') || /(^|\/)\.\.?(\/|$)/.test(bare)) return undefined;
  return bare.replace(/\/{2,}/g, '/');
}

/** Whether a (normalised) path is one a must-change-password session may still reach. */
export function pathMatcher(patterns: readonly string[]): (path: string) => boolean {
  const res = patterns.map(pathPatternRegExp);
  return (path) => res.some((r) => r.test(path));
}
