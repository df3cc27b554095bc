import { z } from 'zod';

/*
 * The `gateway` section: forward-auth for reverse proxies and token introspection
 * (docs/gateway.md). Read once at start; a bad rule stops the start naming the rule.
 */

const roleList = z.array(z.string().min(1).max(128)).min(1).max(256);
const headerName = z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/, 'must be an HTTP header name');
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT'] as const;

/** The identity headers sent upstream; an absent name is not sent. */
export interface IdentityHeaderNames {
  user: string;
  groups: string;
  name?: string | undefined;
  email?: string | undefined;
  sessionId?: string | undefined;
  authSource?: string | undefined;
}

/** Authelia's names, and oauth2-proxy's (`--set-xauthrequest`). */
export const IDENTITY_PRESETS: Record<'authelia' | 'oauth2-proxy', IdentityHeaderNames> = {
  authelia: { user: 'Remote-User', groups: 'Remote-Groups', name: 'Remote-Name', email: 'Remote-Email', sessionId: 'Remote-Session-Id', authSource: 'Remote-Auth-Source' },
  'oauth2-proxy': {
    user: 'X-Auth-Request-User',
    groups: 'X-Auth-Request-Groups',
    name: 'X-Auth-Request-Preferred-Username',
    email: 'X-Auth-Request-Email',
    sessionId: 'X-Auth-Request-Session-Id',
    authSource: 'X-Auth-Request-Auth-Source',
  },
};

/**
 * A host pattern: `*` (any), an exact name, or `*.example.com` (any host under
 * example.com, not example.com itself). Matched lowercase, without the port.
 */
export function hostPatternProblem(p: string): string | undefined {
  if (p === '*') return undefined;
  const name = p.startsWith('*.') ? p.slice(2) : p;
  if (!/^(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/i.test(name) && !/^\[[0-9a-f:.]+\]$/i.test(name)) {
    return `host "${p}" must be *, a host name, or *.domain`;
  }
  return undefined;
}

/**
 * A path pattern: starts with `/`; `*` matches within one segment (no `/`), `**`
 * matches anything (slashes included), so `/api/**` covers `/api` and everything
 * under it. Nothing else is special; matched against the decoded, normalised path.
 */
export function pathPatternProblem(p: string): string | undefined {
  if (!p.startsWith('/')) return `path "${p}" must start with /`;
  if (/\*{3,}/.test(p)) return `path "${p}": use * (one segment) or ** (any depth), not ***`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f?#]/.test(p)) return `path "${p}" must not contain a query, a fragment or control characters`;
  return undefined;
}

const escapeRe = (s: string) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');

/** The RegExp of a valid path pattern. `/a/**` also matches `/a`. */
export function pathPatternRegExp(p: string): RegExp {
  let body = '';
  const src = p.endsWith('/**') ? p.slice(0, -3) : p;
  for (let i = 0; i < src.length; i++) {
    if (src[i] === '*' && src[i + 1] === '*') {
      body += '.*';
      i++;
    } else if (src[i] === '*') body += '[^/]*';
    else body += escapeRe(src[i]!);
  }
  return new RegExp(`^${body}${p.endsWith('/**') ? '(?:/.*)?' : ''}$`);
}

export const ACCESS_KINDS = ['anonymous', 'authenticated', 'roles', 'deny'] as const;
export type AccessKind = (typeof ACCESS_KINDS)[number];

const ruleSchema = z
  .object({
    /** Shown by `portcullis access test` and in errors; default "rule N". */
    name: z.string().min(1).max(128).optional(),
    /** Host pattern(s); default any host. */
    host: z.union([z.string(), z.array(z.string()).min(1).max(64)]).default('*').transform((v) => (Array.isArray(v) ? v : [v])),
    /** Path pattern(s); default any path. */
    path: z.union([z.string(), z.array(z.string()).min(1).max(64)]).default('/**').transform((v) => (Array.isArray(v) ? v : [v])),
    /** Methods; default any. */
    methods: z
      .array(z.string().transform((m) => m.toUpperCase()))
      .min(1)
      .max(16)
      .optional(),
    /**
     * anonymous: let anyone through (no session needed); authenticated: any live session;
     * roles: a live session holding one of `roles`; deny: nobody.
     */
    access: z.enum(ACCESS_KINDS),
    roles: roleList.optional(),
  })
  .strict();

export type AccessRuleConfig = z.infer<typeof ruleSchema>;

const introspectionClient = z
  .object({
    /** client_id of a back-end service (HTTP Basic user name). */
    id: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 letters, digits, dot, underscore or dash'),
    /** SHA-256 of the secret, hex (printf %s SECRET | sha256sum); the secret itself is never in the file. */
    secretSha256: z.string().regex(/^[0-9a-f]{64}$/i, 'must be 64 hex digits').optional(),
    /** A file holding the secret (first line), read at start. */
    secretFile: z.string().min(1).optional(),
  })
  .strict()
  .refine((c) => (c.secretSha256 === undefined) !== (c.secretFile === undefined), { message: 'give exactly one of secretSha256 and secretFile' });

export const gatewaySchema = z
  .object({
    enabled: z.boolean().default(true),
    /** Where a browser without a session is sent (with ?rd=<the URL it asked for>). A path = on the host the browser asked for. */
    loginUrl: z
      .string()
      .max(2048)
      .refine((u) => (u.startsWith('/') && !u.startsWith('//')) || /^https?:\/\/[^/\s]+(\/|$)/i.test(u), 'must be a path (/portcullis/login) or an http(s) URL')
      .default('/portcullis/login'),
    /**
     * Hosts whose URLs may be named as an absolute return URL (each entry: that host and
     * every host under it). Other hosts get a relative return URL (with a relative
     * loginUrl) or no redirect at all: never an open redirect.
     */
    returnDomains: z.array(z.string().min(1).max(253).transform((s) => s.toLowerCase().replace(/^\./, ''))).max(256).default([]),
    /** authelia (Remote-User …) or oauth2-proxy (X-Auth-Request-User …), or your own names. */
    identityHeaders: z
      .union([
        z.enum(['authelia', 'oauth2-proxy']),
        z
          .object({
            user: headerName,
            groups: headerName,
            name: headerName.optional(),
            email: headerName.optional(),
            sessionId: headerName.optional(),
            authSource: headerName.optional(),
          })
          .strict(),
      ])
      .default('authelia')
      .transform((v): IdentityHeaderNames => (typeof v === 'string' ? IDENTITY_PRESETS[v] : v)),
    /** Ordered access rules: the first that matches decides; none matches = deny. */
    rules: z.array(ruleSchema).max(1000).prefault([{ name: 'any session', access: 'authenticated' }]),
    /** Paths a session that must change its password may still reach (path patterns); everything else refuses it. */
    passwordChangePaths: z.array(z.string()).max(64).default(['/portcullis/login/**', '/portcullis/api/v1/password', '/userAccounts/passwordChange']),
    /**
     * Cookie-borne sessions on state-changing methods: refuse requests a browser marks
     * as cross-site (Sec-Fetch-Site: cross-site), a CSRF guard in front of every upstream.
     */
    refuseCrossSiteWrites: z.boolean().default(true),
    /** HTTP Basic on forward-auth: off by default (a password check per request). */
    basic: z
      .object({
        enabled: z.boolean().default(false),
        /** Identity provider that checks the password; default lxca.provider. */
        provider: z.string().regex(/^[^\s]+$/).optional(),
        /** Seconds a successful check is reused for the same user and password (0 = check every request). */
        cacheSeconds: z.number().int().min(0).max(300).default(30),
        /** Cached checks kept at most (oldest dropped first). */
        cacheEntries: z.number().int().min(1).max(100000).default(1000),
      })
      .strict()
      .prefault({}),
    introspection: z
      .object({
        enabled: z.boolean().default(true),
        /** Back-end services allowed to introspect tokens (HTTP Basic client_id:secret); administrators' sessions may too. */
        clients: z.array(introspectionClient).max(256).default([]),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .prefault({})
  .superRefine((g, ctx) => {
    g.rules.forEach((r, i) => {
      const label = `rule ${i + 1}${r.name ? ` "${r.name}"` : ''}`;
      const problems: string[] = [];
      for (const h of r.host) {
        const p = hostPatternProblem(h);
        if (p) problems.push(p);
      }
      for (const p of r.path) {
        const q = pathPatternProblem(p);
        if (q) problems.push(q);
      }
      for (const m of r.methods ?? []) if (!(METHODS as readonly string[]).includes(m)) problems.push(`method "${m}" is not an HTTP method`);
      if (r.access === 'roles' && !r.roles) problems.push('access: roles needs a roles list');
      if (r.access !== 'roles' && r.roles) problems.push(`roles are only for access: roles (this rule is access: ${r.access})`);
      for (const p of problems) ctx.addIssue({ code: 'custom', path: ['rules', i], message: `${label}: ${p}` });
    });
    const names = g.rules.map((r) => r.name).filter((n): n is string => n !== undefined);
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup) ctx.addIssue({ code: 'custom', path: ['rules'], message: `two rules are named "${dup}"` });
    g.passwordChangePaths.forEach((p, i) => {
      const q = pathPatternProblem(p);
      if (q) ctx.addIssue({ code: 'custom', path: ['passwordChangePaths', i], message: q });
    });
    const ids = g.introspection.clients.map((c) => c.id);
    const dupId = ids.find((n, i) => ids.indexOf(n) !== i);
    if (dupId) ctx.addIssue({ code: 'custom', path: ['introspection', 'clients'], message: `two clients have id "${dupId}"` });
  });

export type GatewayConfig = z.infer<typeof gatewaySchema>;
