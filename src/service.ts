import { join } from 'node:path';
import { Argon2idHasher } from './adapters/hasher/argon2.js';
import { LocalAccountsProvider } from './adapters/identity/local/provider.js';
import { SqliteStore } from './adapters/store/sqlite/store.js';
import type { Config } from './config.js';
import { AccountService } from './core/accounts.js';
import type { Logger } from './core/logger.js';
import { SessionService } from './core/sessions.js';
import { systemClock, type Clock } from './ports/clock.js';
import { buildIdentitySources, type IdentitySources } from './identity/build.js';
import { cryptoRandom, type Random } from './ports/random.js';

export const DATABASE_FILE = 'portcullis.db';

/** The core wired to its adapters from the configuration: what the server and the CLI share. */
export interface Portcullis {
  config: Config;
  store: SqliteStore;
  sessions: SessionService;
  accounts: AccountService;
  local: LocalAccountsProvider;
  /** Every identity provider (local, pam, ldap, chains), as configured. */
  identity: IdentitySources;
  clock: Clock;
  isAdministrator(roles: readonly string[]): boolean;
  close(): void;
}

export function openPortcullis(config: Config, logger: Logger, opts: { clock?: Clock; random?: Random; touchFlushMs?: number } = {}): Portcullis {
  const clock = opts.clock ?? systemClock;
  const random = opts.random ?? cryptoRandom;
  const store = new SqliteStore({ path: join(config.dataDir, DATABASE_FILE), touchFlushMs: opts.touchFlushMs ?? 1000 });
  const hasher = new Argon2idHasher(config.argon2);
  const local = new LocalAccountsProvider(store, hasher, () => clock.now());

  // Every provider a dialect names exists; those not set up answer "not configured".
  let identity: IdentitySources;
  try {
    identity = buildIdentitySources(config, { local, accounts: store, logger });
  } catch (e) {
    store.close();
    throw e;
  }
  const identities = identity.providers;

  const sessions = new SessionService({
    sessions: store,
    identities,
    clock,
    random,
    logger,
    policy: {
      idleTimeoutMs: Math.round(config.session.inactivityTimeoutMinutes * 60_000),
      absoluteLifetimeMs: Math.round(config.session.absoluteTimeoutMinutes * 60_000),
    },
  });
  const accounts = new AccountService({
    accounts: store,
    sessions: store,
    hasher,
    clock,
    random,
    logger,
    defaults: {
      enterprise: config.accounts.enterprise,
      organizations: config.accounts.organizations,
      adminRoles: config.accounts.adminRoles,
      minPasswordLength: config.accounts.minPasswordLength,
    },
  });
  const adminRoles = new Set(config.accounts.adminRoles);
  return {
    config,
    store,
    sessions,
    accounts,
    local,
    identity,
    clock,
    isAdministrator: (roles) => roles.some((r) => adminRoles.has(r)),
    close: () => {
      identity.close();
      store.close();
    },
  };
}
