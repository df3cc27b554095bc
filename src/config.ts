import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';

const roleList = z.array(z.string().min(1).max(128)).max(256);

/**
 * The whole configuration: one schema, read once at start. Every key has a secure
 * default, so an empty file (or none) gives a working service.
 */
export const configSchema = z
  .object({
    /** Where the database, the generated TLS certificate and its key live. */
    dataDir: z.string().min(1).default('./data'),
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
    argon2: z
      .object({
        memoryKiB: z.number().int().min(8192).max(4194304).default(19456),
        iterations: z.number().int().min(1).max(100).default(2),
        parallelism: z.number().int().min(1).max(16).default(1),
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
        /** Which identity provider answers each HCX authType. */
        authTypes: z.record(z.string().min(1), z.string().min(1)).default({ local: 'local', vsphere: 'vsphere' }),
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
        /** Identity provider that checks XClarity logins. */
        provider: z.string().min(1).default('local'),
        /** Name of the session cookie (the csrf cookie is always `csrf`). */
        sessionCookie: z
          .string()
          .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'must be a valid cookie name')
          .refine((s) => s !== 'csrf', 'must not be "csrf"')
          .default('JSESSIONID'),
        /** Roles that may log in through XClarity; "any" = at least one role. */
        allowedRoles: z.union([z.literal('any'), roleList.min(1)]).default('any'),
      })
      .strict()
      .prefault({}),
    log: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      })
      .strict()
      .prefault({}),
  })
  .strict();

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
  PORTCULLIS_HOST: ['listen', 'host'],
  PORTCULLIS_PORT: ['listen', 'port'],
  PORTCULLIS_PLAIN_HTTP: ['tls', 'disabled'],
  PORTCULLIS_TLS_CERT: ['tls', 'certFile'],
  PORTCULLIS_TLS_KEY: ['tls', 'keyFile'],
  PORTCULLIS_TRUST_PROXY: ['trustProxy'],
  PORTCULLIS_LOG_LEVEL: ['log', 'level'],
  PORTCULLIS_INACTIVITY_TIMEOUT_MINUTES: ['session', 'inactivityTimeoutMinutes'],
  PORTCULLIS_ABSOLUTE_TIMEOUT_MINUTES: ['session', 'absoluteTimeoutMinutes'],
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

/** Reads an environment value as a YAML scalar, so "9443" is a number and "true" a boolean. */
function envValue(raw: string): unknown {
  try {
    return YAML.parse(raw);
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
      parsed = YAML.parse(text);
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
    if (v !== undefined && v !== '') setPath(raw, path, path[0] === 'dataDir' || path[1] === 'certFile' || path[1] === 'keyFile' || path[1] === 'host' ? v : envValue(v));
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
