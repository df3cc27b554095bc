import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createRequire } from 'node:module';
import { z } from 'zod';
import { docsSchema } from './config/docs.js';
import { gatewaySchema } from './config/gateway.js';
import { redfishConfigSchema } from './config/redfish.js';
import { metricsSchema } from './config/metrics.js';
import { lifecycleSchema } from './config/lifecycle.js';
import { auditSinksSchema } from './config/audit-sinks.js';
import { clientTestingSchema, isLoopbackHost } from './config/client-testing.js';
import { vcenterSchema } from './config/vcenter.js';
import { identityDomainsSchema } from './config/identity.js';
import { floodSchema } from './config/flood.js';
import { totpSchema } from './config/totp.js';
import { webSchema } from './config/web.js';

const roleList = z.array(z.string().min(1).max(128)).max(256);

/** Identity providers Portcullis has; a dialect may name others, which then answer "not configured". */
export const PROVIDER_NAMES = ['local', 'pam', 'ldap'] as const;

/**
 * Which identity provider answers: a name, or a list tried in order (the next one
 * only when the previous does not know the user). A list is kept as its names
 * joined by commas, which is also the chain's provider name.
 */
const providerRef = z
  .union([
    z.string().min(1).regex(/^[^,\s]+$/, 'must be a provider name (local, pam, ldap)'),
    z
      .array(z.string().min(1).regex(/^[^,\s]+$/, 'must be a provider name (local, pam, ldap)'))
      .min(1)
      .max(8)
      .refine((l) => new Set(l).size === l.length, 'must not name a provider twice'),
  ])
  .transform((v) => (Array.isArray(v) ? v.join(',') : v));

/** Group → roles (or organizations). Keys are Unix group names, or directory group names (cn) or DNs; matched ignoring case. */
const groupMap = z.record(z.string().min(1).max(1024), roleList).default({});

const filterTemplate = (what: string, needs: string[]) =>
  z
    .string()
    .min(3)
    .max(4096)
    .refine((f) => f.startsWith('(') && f.endsWith(')'), `${what} must be an LDAP filter in parentheses`)
    .refine((f) => needs.some((n) => f.includes(`{${n}}`)), `${what} must use ${needs.map((n) => `{${n}}`).join(' or ')}`);

const pamSchema = z
  .object({
    /** PAM service name: the file /etc/pam.d/<service> (shipped as pam/portcullis). */
    service: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be a PAM service file name').default('portcullis'),
    /** The compiled helper; default: dist/bin/portcullis-pam-helper of this package. */
    helperPath: z.string().min(1).optional(),
    /** PAM checks running at once, each in its own helper process. */
    maxConcurrent: z.number().int().min(1).max(64).default(4),
    /** Checks waiting for a free helper; beyond this a login fails at once (500) instead of piling up. */
    maxQueue: z.number().int().min(0).max(10000).default(64),
    /** Time allowed for one PAM check, waiting included, in ms. */
    timeoutMs: z.number().int().min(100).max(120000).default(5000),
    /** Unix group → roles, e.g. { sudo: [System Administrator] }. A user whose groups map to no role gets 403. */
    groupRoles: groupMap,
    groupOrganizations: groupMap,
    /** Organizations of users whose groups map to none; default accounts.organizations. */
    organizations: z.array(z.string().min(1)).min(1).optional(),
    enterprise: z.string().min(1).optional(),
    /** Whether uid 0 (root) may log in through PAM. */
    allowRoot: z.boolean().default(false),
    /**
     * CPU niceness of the PAM helpers (0–19). 19: below the argon2 threads (10), so a flood of
     * PAM failures yields the CPU to session checks and local logins (measured: B5 in BENCHMARKS.md).
     */
    nice: z.number().int().min(0).max(19).default(19),
  })
  .strict();

const disabledRule = z
  .object({
    attribute: z.string().regex(/^[A-Za-z][A-Za-z0-9-]*$/, 'must be an attribute name'),
    equals: z.string().optional(),
    bitmask: z.number().int().min(1).optional(),
  })
  .strict()
  .refine((r) => r.equals === undefined || r.bitmask === undefined, 'give equals or bitmask, not both');

const ldapSchema = z
  .object({
    /** ldaps://host[:port] or ldap://host[:port]; a list = servers tried in order. */
    url: z
      .union([z.string(), z.array(z.string()).min(1).max(16)])
      .transform((v) => (Array.isArray(v) ? v : [v]))
      .refine((l) => l.every((u) => /^ldaps?:\/\/[^/?#\s]+\/?$/i.test(u)), 'must be ldap://host[:port] or ldaps://host[:port]'),
    /** Upgrade ldap:// connections with StartTLS before anything is sent. */
    startTls: z.boolean().default(false),
    /** PEM file of the CA(s) that sign the directory's certificate (default: the system's CAs). */
    caFile: z.string().min(1).optional(),
    /** Plain ldap:// without StartTLS sends passwords in clear: allowed to loopback only, unless this is true. */
    allowPlaintext: z.boolean().default(false),
    /** The service account that searches users and groups. */
    bindDN: z.string().min(1),
    bindPassword: z.string().min(1).optional(),
    /** A file holding the service account's password (first line), instead of bindPassword. */
    bindPasswordFile: z.string().min(1).optional(),
    userBase: z.string().min(1),
    userScope: z.enum(['sub', 'one']).default('sub'),
    /**
     * Filter finding the user; {username} = as typed, {user} = without its domain,
     * {domain} = the domain. Values are RFC 4515-escaped. Examples: (uid={user}),
     * (sAMAccountName={user}), (userPrincipalName={username}).
     */
    userFilter: filterTemplate('userFilter', ['username', 'user']).default('(&(objectClass=inetOrgPerson)(uid={user}))'),
    /** When set, a name with a domain (user@vsphere.local, VSPHERE\\user) must have one of these; added to identity.domains (the one place to list them). */
    domains: z.array(z.string().min(1)).min(1).optional(),
    /** The entry's attribute whose stored value is the user's canonical name (ldap:<value>); uid (OpenLDAP, vsphere.local), sAMAccountName (AD). Without it, the entry's DN. */
    userAttribute: z.string().regex(/^[A-Za-z][A-Za-z0-9-]*$/, 'must be an attribute name').default('uid'),
    groups: z
      .object({
        /** search: find groups by member; memberOf: read the user's memberOf (AD, vsphere.local, OpenLDAP memberof overlay). */
        mode: z.enum(['search', 'memberOf']).default('search'),
        /** Where groups live; default userBase. */
        base: z.string().min(1).optional(),
        /** Mode search: {dn} = member's DN (also {user}, {username} for posixGroup memberUid). */
        filter: filterTemplate('groups.filter', ['dn', 'user', 'username']).default('(|(member={dn})(uniqueMember={dn}))'),
        /** Levels of nested groups followed beyond the direct ones (0 = direct only). */
        nestedDepth: z.number().int().min(0).max(10).default(3),
        maxGroups: z.number().int().min(1).max(10000).default(500),
      })
      .strict()
      .prefault({}),
    /** Group (cn or DN) → roles. A user whose groups map to no role gets 403. */
    groupRoles: groupMap,
    groupOrganizations: groupMap,
    organizations: z.array(z.string().min(1)).min(1).optional(),
    enterprise: z.string().min(1).optional(),
    /** An account matching any rule is refused. Defaults cover OpenLDAP ppolicy, 389-DS/FreeIPA and Active Directory. */
    disabledWhen: z
      .array(disabledRule)
      .max(16)
      .default([{ attribute: 'pwdAccountLockedTime' }, { attribute: 'nsAccountLock', equals: 'true' }, { attribute: 'userAccountControl', bitmask: 2 }]),
    /** Connections in each of the two pools (service-account searches; user password binds). */
    poolSize: z.number().int().min(1).max(64).default(4),
    /** TCP (and TLS) connect timeout, in ms. */
    connectTimeoutMs: z.number().int().min(100).max(60000).default(3000),
    /** Time allowed for each operation, and for a whole login, in ms. */
    timeoutMs: z.number().int().min(100).max(120000).default(5000),
  })
  .strict()
  .refine((l) => (l.bindPassword === undefined) !== (l.bindPasswordFile === undefined), {
    message: 'give exactly one of bindPassword and bindPasswordFile',
    path: ['bindPassword'],
  })
  .refine((l) => !(l.startTls && l.url.some((u) => /^ldaps:/i.test(u))), { message: 'startTls is for ldap:// URLs (ldaps:// is TLS already)', path: ['startTls'] })
  .refine((l) => l.allowPlaintext || l.startTls || l.url.every((u) => /^ldaps:/i.test(u) || isLoopbackUrl(u)), {
    message: 'plain ldap:// to another host sends passwords in clear: use ldaps://, startTls: true, or allowPlaintext: true',
    path: ['url'],
  });

function isLoopbackUrl(u: string): boolean {
  const host = u.replace(/^ldaps?:\/\//i, '').replace(/\/$/, '').replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/**
 * The whole configuration: one schema, read once at start. Every key has a secure
 * default, so an empty file (or none) gives a working service.
 */
export const configSchema = z
  .object({
    /** Where the database, the generated TLS certificate and its key live. */
    dataDir: z.string().min(1).default('./data'),
    /**
     * Where accounts, settings, audit and password history live: the embedded SQLite
     * file in dataDir (one node), or PostgreSQL (several nodes share it).
     */
    store: z.enum(['sqlite', 'postgres']).default('sqlite'),
    /**
     * Where sessions and failure counters live; default: the same place as `store`.
     * redis = Redis (with store: postgres), for several nodes behind a load balancer.
     */
    sessions: z.enum(['sqlite', 'postgres', 'redis']).optional(),
    postgres: z
      .object({
        /** postgres://user@host:5432/portcullis (?sslmode=verify-full is honoured). */
        url: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
        /** A file holding the password (first line), kept out of the URL and the environment. */
        passwordFile: z.string().min(1).optional(),
        poolMax: z.number().int().min(1).max(200).default(10),
        /** TLS: verify the server with this CA (PEM); rejectUnauthorized false only for testing. */
        tls: z
          .object({ caFile: z.string().min(1).optional(), rejectUnauthorized: z.boolean().default(true) })
          .strict()
          .optional(),
        connectTimeoutMs: z.number().int().min(100).max(60000).default(2000),
        /** Longest a statement may run before the request fails with 503. */
        statementTimeoutMs: z.number().int().min(100).max(600000).default(5000),
        /** Bring the schema up to date at start (default); false = only `portcullis migrate` does, and serve refuses an old schema. */
        autoMigrate: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    redis: z
      .object({
        /** redis://host:6379/0, rediss:// (TLS), redis-sentinel://h1:26379,h2:26379/mymaster, redis-cluster://h1:6379,h2:6379 */
        url: z.string().regex(/^(rediss?|redis-sentinel|redis-cluster):\/\//, 'must be a redis://, rediss://, redis-sentinel:// or redis-cluster:// URL').optional(),
        /** A file holding the password (first line), kept out of the URL and the environment. */
        passwordFile: z.string().min(1).optional(),
        /** Key prefix; keep a {hash tag} in it on Redis Cluster (all keys in one slot keep the scripts atomic). */
        prefix: z.string().min(1).max(64).default('{portcullis}:'),
        tls: z
          .object({ caFile: z.string().min(1).optional(), rejectUnauthorized: z.boolean().default(true) })
          .strict()
          .optional(),
        connectTimeoutMs: z.number().int().min(100).max(60000).default(2000),
        /** Longest a command may take before the request fails with 503. */
        commandTimeoutMs: z.number().int().min(50).max(60000).default(1000),
      })
      .strict()
      .prefault({}),
    /** Nodes sharing PostgreSQL or Redis. */
    cluster: z
      .object({
        /**
         * Real time a session read from a shared backend may be served from this node's
         * memory. Another node's logout or revocation is enforced here within this bound.
         */
        sessionCacheMs: z.number().int().min(0).max(1000).default(500),
        /** How often "last accessed" times are written to the shared backend, in ms. */
        touchFlushMs: z.number().int().min(100).max(10000).default(1000),
      })
      .strict()
      .prefault({}),
    listen: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(9443),
      })
      .strict()
      .prefault({}),
    tls: z
      .object({
        /** Plain HTTP, for use behind a TLS-terminating proxy only. */
        disabled: z.boolean().default(false),
        /** PEM files; when both are absent a self-signed pair is generated in dataDir on first start. */
        certFile: z.string().min(1).optional(),
        keyFile: z.string().min(1).optional(),
      })
      .strict()
      .prefault({})
      .refine((t) => (t.certFile === undefined) === (t.keyFile === undefined), {
        message: 'certFile and keyFile must be given together',
      }),
    /** Trust X-Forwarded-For from these proxies (true = any; a list of addresses or CIDRs). */
    trustProxy: z.union([z.boolean(), z.array(z.string().min(1))]).default(false),
    http: z
      .object({
        /** Largest request body accepted, in bytes. */
        bodyLimitBytes: z.number().int().min(256).max(1048576).default(16384),
        /** Largest request head (request line and headers), in bytes; larger ones get 431 in the dialect's envelope. */
        maxHeaderBytes: z.number().int().min(1024).max(65536).default(16384),
        /** Time allowed to receive a whole request, in ms. */
        requestTimeoutMs: z.number().int().min(1000).max(600000).default(30000),
      })
      .strict()
      .prefault({}),
    session: z
      .object({
        /** Inactivity after which a session ends, in minutes; 0 = never. XClarity's default shows 1440 seconds. */
        inactivityTimeoutMinutes: z.number().min(0).max(525600).default(24),
        /** Absolute session lifetime in minutes, whatever the activity. */
        absoluteTimeoutMinutes: z.number().gt(0).max(525600).default(1440),
        /** How often expired sessions are deleted, in seconds. */
        sweepIntervalSeconds: z.number().gt(0).max(86400).default(60),
      })
      .strict()
      .prefault({}),
    /**
     * The account policy's starting values, with XClarity's names and units (see
     * docs/account-policy.md "Account settings"). Values changed through PUT /userAccountSettings or
     * `portcullis settings set` are stored in the database and win over these.
     * InactivityTimeout, SessionLifetime and MinimumPasswordLength come from
     * session.inactivityTimeoutMinutes, session.absoluteTimeoutMinutes and accounts.minPasswordLength.
     */
    accountSettings: z
      .object({
        /** Minutes an account stays locked; 0 = until an administrator unlocks it. */
        LockoutTime: z.number().int().min(0).max(525600).default(60),
        /** Failed logins within an hour that lock the account (reset by a successful login); 1..100. */
        MaximumLoginFailures: z.number().int().min(1).max(100).default(20),
        /** Live sessions per user; 0 = unlimited. */
        MaxConcurrentSessions: z.number().int().min(0).max(1000).default(3),
        /** Days before a password must be changed; 0 = never. */
        MaximumPasswordExpiration: z.number().int().min(0).max(3650).default(90),
        /** A new password must not be one of the last N; 0 = no check. */
        MinimumPasswordReuseCycle: z.number().int().min(0).max(24).default(5),
      })
      .strict()
      .prefault({}),
    bruteForce: z
      .object({
        /** Failed logins from one source address that throttle it; capped at half of MaximumLoginFailures. */
        sourceMaxFailures: z.number().int().min(1).max(100).default(10),
        /** Minutes a source's failures are counted, and a throttled source stays throttled. */
        sourceWindowMinutes: z.number().int().min(1).max(10080).default(60),
        /** Days a source stays trusted for an account after a successful login from it (it may log in while the account is locked). 0 = never trust. */
        trustedSourceDays: z.number().int().min(0).max(365).default(30),
      })
      .strict()
      .prefault({}),
    flood: floodSchema,
    audit: z
      .object({
        /** Days audit events are kept; older ones are deleted by the sweep. */
        retentionDays: z.number().int().min(1).max(3650).default(90),
      })
      .strict()
      .prefault({}),
    argon2: z
      .object({
        memoryKiB: z.number().int().min(8192).max(4194304).default(19456),
        iterations: z.number().int().min(1).max(100).default(2),
        parallelism: z.number().int().min(1).max(16).default(1),
        /** Threads that verify passwords at login (default: one per core, at least 2); 0 = libuv's pool. */
        verifyThreads: z.number().int().min(0).max(64).optional(),
        /** CPU niceness of those threads (0–19): session checks run before password hashing. */
        nice: z.number().int().min(0).max(19).default(10),
        /** Logins waiting for a hashing thread; beyond it, or past maxWaitMs, a login gets 503 + Retry-After at once. */
        maxQueue: z.number().int().min(0).max(100000).default(2048),
        /** Longest a login waits for its verification: seconds, the time clients bear (a burst of 150 logins takes about 1 s). */
        maxWaitMs: z.number().int().min(10).max(60000).default(5000),
        /** Event-loop delay (ms) above which fewer hashes run at once while session checks are being served. */
        targetDelayMs: z.number().min(1).max(1000).default(4),
      })
      .strict()
      .prefault({}),
    accounts: z
      .object({
        enterprise: z.string().min(1).default('HybridityAdmin'),
        organizations: z.array(z.string().min(1)).min(1).default(['DEFAULT']),
        /** Roles of an administrator (may see and revoke everyone's sessions); the first `admin` gets all of them. */
        adminRoles: roleList.min(1).default(['System Administrator', 'Enterprise Administrator']),
        minPasswordLength: z.number().int().min(1).max(256).default(8),
      })
      .strict()
      .prefault({}),
    hcx: z
      .object({
        enabled: z.boolean().default(true),
        /** Which identity provider answers each HCX authType (local → local or pam; vsphere → ldap). */
        authTypes: z.record(z.string().min(1), providerRef).default({ local: 'local', vsphere: 'ldap' }),
        /** Roles that may use the HCX admin API; others get 403 NOT_ENOUGH_PRIVILEGES. */
        allowedRoles: roleList.min(1).default(['System Administrator', 'Enterprise Administrator', 'Appliance Administrator']),
        cloud: z
          .object({ name: z.string().default('HCX Manager'), type: z.string().default('vsphere') })
          .strict()
          .prefault({}),
        /** Organization name → id shown in data.organizations[]. */
        organizationIds: z.record(z.string(), z.string()).default({ DEFAULT: 'default-org-id' }),
      })
      .strict()
      .prefault({}),
    lxca: z
      .object({
        enabled: z.boolean().default(true),
        /** Identity provider that checks XClarity logins; [local, ldap] = local accounts, then the directory for names local does not know. */
        provider: providerRef.default('local'),
        /** Name of the session cookie (the csrf cookie is always `csrf`). */
        sessionCookie: z
          .string()
          .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'must be a valid cookie name')
          .refine((s) => s !== 'csrf', 'must not be "csrf"')
          .default('JSESSIONID'),
        /** Roles that may log in through XClarity; "any" = at least one role. */
        allowedRoles: z.union([z.literal('any'), roleList.min(1)]).default('any'),
        /**
         * Status of a refused `POST /sessions` (wrong password, unknown, locked or disabled user).
         * 403 by default: Lenovo's own clients (the xclarity_client gem, pylxca) read 403 as "bad
         * credentials" and any other status as "connection failed". 401 for clients written to RFC 7235.
         */
        failedLoginStatus: z.union([z.literal(401), z.literal(403)]).default(403),
      })
      .strict()
      .prefault({}),
    redfish: redfishConfigSchema,
    vcenter: vcenterSchema(providerRef),
    /** Identity sources besides the built-in accounts; a source is configured when its section is present. */
    identity: z
      .object({
        domains: identityDomainsSchema,
        pam: pamSchema.optional(),
        ldap: ldapSchema.optional(),
      })
      .strict()
      .prefault({}),
    gateway: gatewaySchema,
    metrics: metricsSchema,
    lifecycle: lifecycleSchema,
    auditSinks: auditSinksSchema,
    docs: docsSchema,
    web: webSchema,
    totp: totpSchema,
    log: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      })
      .strict()
      .prefault({}),
    clientTesting: clientTestingSchema,
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.clientTesting.enabled && !c.clientTesting.allowRemote && !isLoopbackHost(c.listen.host)) {
      ctx.addIssue({
        code: 'custom',
        path: ['clientTesting', 'enabled'],
        message: `client-testing mode lets any caller inject faults; it needs a loopback listen address (listen.host is ${c.listen.host}) or clientTesting.allowRemote: true`,
      });
    }
    const sessions = c.sessions ?? c.store;
    if (c.store === 'sqlite' && sessions !== 'sqlite') {
      ctx.addIssue({ code: 'custom', path: ['sessions'], message: `sessions: ${sessions} needs store: postgres (nodes that share sessions must share accounts)` });
    }
    if (c.store === 'postgres' && sessions === 'sqlite') {
      ctx.addIssue({ code: 'custom', path: ['sessions'], message: 'sessions: sqlite cannot go with store: postgres (use postgres or redis)' });
    }
    if ((c.store === 'postgres' || sessions === 'postgres') && !c.postgres.url) {
      ctx.addIssue({ code: 'custom', path: ['postgres', 'url'], message: 'store: postgres needs postgres.url (or PORTCULLIS_POSTGRES_URL)' });
    }
    if (sessions === 'redis' && !c.redis.url) {
      ctx.addIssue({ code: 'custom', path: ['redis', 'url'], message: 'sessions: redis needs redis.url (or PORTCULLIS_REDIS_URL)' });
    }
  });

export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Environment variables that override the file, each naming one key. */
export const envKeys: Record<string, string[]> = {
  PORTCULLIS_DATA_DIR: ['dataDir'],
  PORTCULLIS_STORE: ['store'],
  PORTCULLIS_SESSIONS: ['sessions'],
  PORTCULLIS_POSTGRES_URL: ['postgres', 'url'],
  PORTCULLIS_REDIS_URL: ['redis', 'url'],
  PORTCULLIS_HOST: ['listen', 'host'],
  PORTCULLIS_CLIENT_TESTING: ['clientTesting', 'enabled'],
  PORTCULLIS_PORT: ['listen', 'port'],
  PORTCULLIS_PLAIN_HTTP: ['tls', 'disabled'],
  PORTCULLIS_TLS_CERT: ['tls', 'certFile'],
  PORTCULLIS_TLS_KEY: ['tls', 'keyFile'],
  PORTCULLIS_TRUST_PROXY: ['trustProxy'],
  PORTCULLIS_LOG_LEVEL: ['log', 'level'],
  PORTCULLIS_METRICS_PORT: ['metrics', 'port'],
  PORTCULLIS_INACTIVITY_TIMEOUT_MINUTES: ['session', 'inactivityTimeoutMinutes'],
  PORTCULLIS_ABSOLUTE_TIMEOUT_MINUTES: ['session', 'absoluteTimeoutMinutes'],
  PORTCULLIS_DOCS_ACCESS: ['docs', 'access'],
  PORTCULLIS_VCENTER_PROVIDER: ['vcenter', 'provider'],
};

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

/**
 * The YAML parser, loaded when first needed (~25 ms of a start that reads no YAML):
 * a config file, or an environment value that is not a plain word or number.
 */
let yamlModule: typeof import('yaml') | undefined;
export function yaml(): typeof import('yaml') {
  yamlModule ??= createRequire(import.meta.url)('yaml') as typeof import('yaml');
  return yamlModule;
}

/** Words YAML 1.2's core schema reads as null or a boolean. */
const YAML_WORDS = new Set(['null', 'Null', 'NULL', 'true', 'True', 'TRUE', 'false', 'False', 'FALSE']);

/**
 * Reads an environment value as a YAML scalar, so "9443" is a number and "true" a boolean.
 * A word (letters, digits, `_ . / -`, not starting with a digit, `.` or `-`) that is not one of
 * YAML's null or boolean words is that string, and a decimal integer that number, as YAML reads
 * them; anything else goes to the YAML parser.
 */
export function envValue(raw: string): unknown {
  if (/^[A-Za-z_/][A-Za-z0-9_./-]*$/.test(raw) && !YAML_WORDS.has(raw)) return raw;
  if (/^(0|[1-9][0-9]{0,14})$/.test(raw)) return Number(raw);
  try {
    return yaml().parse(raw);
  } catch {
    return raw;
  }
}

/**
 * Loads the configuration: the file (YAML or JSON, optional), then the environment,
 * then `overrides` (command-line flags). Throws {@link ConfigError} naming every bad key.
 */
export function loadConfig(opts: { file?: string | undefined; env?: NodeJS.ProcessEnv; overrides?: Record<string, unknown> } = {}): Config {
  const env = opts.env ?? process.env;
  const file = opts.file ?? env.PORTCULLIS_CONFIG;
  let raw: Record<string, unknown> = {};
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new ConfigError(`cannot read config file ${file}: ${(e as Error).message}`);
    }
    let parsed: unknown;
    try {
      parsed = yaml().parse(text);
    } catch (e) {
      throw new ConfigError(`config file ${file} is not valid YAML/JSON: ${(e as Error).message}`);
    }
    if (parsed !== null && parsed !== undefined) {
      if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError(`config file ${file} must hold a mapping of keys`);
      raw = parsed as Record<string, unknown>;
    }
  }
  for (const [name, path] of Object.entries(envKeys)) {
    const v = env[name];
    if (v !== undefined && v !== '') setPath(raw, path, path[0] === 'dataDir' || path[1] === 'url' || path[1] === 'certFile' || path[1] === 'keyFile' || path[1] === 'host' ? v : envValue(v));
  }
  for (const [dotted, v] of Object.entries(opts.overrides ?? {})) {
    if (v !== undefined) setPath(raw, dotted.split('.'), v);
  }
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((i) => {
      const key = i.path.join('.') || '(top level)';
      return `  ${key}: ${i.message}`;
    });
    throw new ConfigError(`invalid configuration${file ? ` (${file})` : ''}:\n${lines.join('\n')}`);
  }
  const config = result.data;
  config.dataDir = resolve(config.dataDir);
  return config;
}
