import { existsSync, readFileSync } from 'node:fs';
import { ConfigError, PROVIDER_NAMES, type Config } from '../config.js';
import { configuredDomains } from '../config/identity.js';
import type { Logger } from '../core/logger.js';
import type { IdentityProvider } from '../ports/identity.js';
import type { AccountStore } from '../ports/store.js';
import { LdapProvider } from '../adapters/identity/ldap/provider.js';
import { defaultHelperPath } from '../adapters/identity/pam/helper-path.js';
import { PamWorkerPool } from '../adapters/identity/pam/pool.js';
import { PamProvider } from '../adapters/identity/pam/provider.js';
import { UnconfiguredProvider } from '../adapters/identity/unconfigured.js';
import { ChainProvider } from './chain.js';
import { asChecking, LocalCheckingProvider } from './local.js';
import type { CheckingProvider } from './outcome.js';

export interface IdentitySources {
  /** Every provider a dialect may name, by name (chains under their comma-joined names). */
  providers: Map<string, IdentityProvider>;
  /** The provider of a name, able to tell "unknown user" (for `portcullis identity test`). */
  checking(name: string): CheckingProvider | undefined;
  pam?: PamProvider;
  ldap?: LdapProvider;
  close(): void;
}

/**
 * Builds the identity providers from the configuration: the built-in accounts,
 * PAM and LDAP when their `identity.*` section is present, chains for lists
 * such as `lxca.provider: [local, ldap]`, and an {@link UnconfiguredProvider}
 * for any name a dialect uses without a source behind it (it never says yes).
 * Unreadable CA or password files stop the start with a {@link ConfigError}.
 */
export function buildIdentitySources(
  config: Config,
  deps: { local: IdentityProvider; accounts: Pick<AccountStore, 'getAccount'>; logger: Logger },
): IdentitySources {
  const checking = new Map<string, CheckingProvider>();
  checking.set('local', new LocalCheckingProvider(deps.local, deps.accounts));
  const closers: (() => void)[] = [];
  let pam: PamProvider | undefined;
  let ldap: LdapProvider | undefined;

  const p = config.identity.pam;
  if (p) {
    const helperPath = p.helperPath ?? defaultHelperPath();
    const serviceFile = `/etc/pam.d/${p.service}`;
    if (!existsSync(helperPath)) {
      deps.logger.warn({ event: 'pam.helper_missing', path: helperPath }, 'the PAM helper is missing: PAM logins fail until it is built (npm run build:pam, needs libpam0g-dev)');
    }
    if (existsSync('/etc/pam.d') && !existsSync(serviceFile)) {
      deps.logger.warn({ event: 'pam.service_missing', path: serviceFile }, `PAM logins fail until pam/portcullis is installed as ${serviceFile}`);
    }
    const pool = new PamWorkerPool({
      helperPath,
      service: p.service,
      serviceFile: existsSync('/etc/pam.d') ? serviceFile : undefined,
      maxConcurrent: p.maxConcurrent,
      maxQueue: p.maxQueue,
      timeoutMs: p.timeoutMs,
      nice: p.nice,
    });
    pam = new PamProvider({
      pool,
      mapping: { groupRoles: p.groupRoles, groupOrganizations: p.groupOrganizations, defaultOrganizations: p.organizations ?? config.accounts.organizations },
      enterprise: p.enterprise ?? config.accounts.enterprise,
      allowRoot: p.allowRoot,
      logger: deps.logger,
    });
    checking.set('pam', pam);
    closers.push(() => pool.close());
  }

  const l = config.identity.ldap;
  if (l) {
    const ca = l.caFile !== undefined ? [readKeyFile(l.caFile, 'identity.ldap.caFile')] : undefined;
    const bindPassword = l.bindPassword ?? readKeyFile(l.bindPasswordFile!, 'identity.ldap.bindPasswordFile').split(/\r?\n/)[0]!;
    if (bindPassword.length === 0) throw new ConfigError(`identity.ldap.bindPasswordFile: ${l.bindPasswordFile} holds an empty password`);
    ldap = new LdapProvider({
      transport: { urls: l.url, startTls: l.startTls, ca, connectTimeoutMs: l.connectTimeoutMs, timeoutMs: l.timeoutMs },
      poolSize: l.poolSize,
      timeoutMs: l.timeoutMs,
      bindDN: l.bindDN,
      bindPassword,
      userBase: l.userBase,
      userScope: l.userScope,
      userFilter: l.userFilter,
      // identity.domains is the one place domains are listed; identity.ldap.domains adds to it.
      ...(configuredDomains(config.identity).length > 0 && { domains: configuredDomains(config.identity) }),
      userAttribute: l.userAttribute,
      groups: { ...l.groups, base: l.groups.base ?? l.userBase },
      disabledWhen: l.disabledWhen,
      mapping: { groupRoles: l.groupRoles, groupOrganizations: l.groupOrganizations, defaultOrganizations: l.organizations ?? config.accounts.organizations },
      enterprise: l.enterprise ?? config.accounts.enterprise,
      logger: deps.logger,
    });
    checking.set('ldap', ldap);
    const provider = ldap;
    closers.push(() => provider.close());
  }

  const resolve = (name: string): CheckingProvider => {
    const found = checking.get(name);
    if (found) return found;
    if (!(PROVIDER_NAMES as readonly string[]).includes(name)) {
      deps.logger.warn({ event: 'identity.unknown_provider', provider: name }, `identity provider "${name}" does not exist (local, pam, ldap): logins through it fail as "not configured"`);
    }
    const u = asChecking(new UnconfiguredProvider(name));
    checking.set(name, u);
    return u;
  };
  const named = [...Object.values(config.hcx.authTypes), config.lxca.provider];
  for (const ref of named) {
    if (checking.has(ref)) continue;
    if (ref.includes(',')) checking.set(ref, new ChainProvider(ref, ref.split(',').map(resolve)));
    else resolve(ref);
  }

  const providers = new Map<string, IdentityProvider>();
  for (const [name, prov] of checking) providers.set(name, name === 'local' ? deps.local : prov);
  return {
    providers,
    checking: (name) => checking.get(name) ?? (name.includes(',') ? new ChainProvider(name, name.split(',').map(resolve)) : undefined),
    ...(pam && { pam }),
    ...(ldap && { ldap }),
    close: () => {
      for (const c of closers) c();
    },
  };
}

function readKeyFile(path: string, key: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`${key}: cannot read ${path}: ${(e as Error).message}`);
  }
}
