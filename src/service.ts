import { ClientTesting, OffsetClock } from './testing/controller.js';
import { Argon2idHasher } from './adapters/hasher/argon2.js';
import { LocalAccountsProvider } from './adapters/identity/local/provider.js';
import { failureDomains } from './config/identity.js';
import { caseFold } from './core/identity-key.js';
import { openStores, type StoreSet } from './adapters/store/open.js';
import type { Config } from './config.js';
import { AccountService } from './core/accounts.js';
import type { Logger } from './core/logger.js';
import { SessionService } from './core/sessions.js';
import { KnownClients } from './core/admission.js';
import { SourceService } from './core/sources.js';
import { AuditService } from './core/audit.js';
import { SecondFactorService } from './core/second-factor.js';
import { SettingsService, settingsProblem, type AccountSettings } from './core/settings.js';
import { ConfigError } from './config.js';
import { systemClock, type Clock } from './ports/clock.js';
import { buildIdentitySources, type IdentitySources } from './identity/build.js';
import { cryptoRandom, type Random } from './ports/random.js';
import { openAuditSinks } from './audit-sinks/index.js';
import type { AuditSink } from './ports/audit-sink.js';

export { DATABASE_FILE } from './adapters/store/open.js';

/** The core wired to its adapters from the configuration: what the server and the CLI share. */
export interface Portcullis {
  config: Config;
  /** The configured stores: `durable` (accounts, settings, audit) and `hot` (sessions, failure counters); one object on SQLite. */
  stores: StoreSet;
  sessions: SessionService;
  accounts: AccountService;
  settings: SettingsService;
  audit: AuditService;
  /** Login sources for operators: throttled and refused sources with counts, locked accounts, release. */
  sources: SourceService;
  /** The (account, source) pairs known to have logged in, in memory (see {@link Portcullis.loadKnownClients}). */
  knownClients: KnownClients;
  /** Loads the store's recent login sources into memory, so returning users are known before they log in again; returns how many. */
  loadKnownClients(): Promise<number>;
  /** Where audit events go besides the audit table (config auditSinks), if anywhere. */
  auditSink: AuditSink | undefined;
  /** TOTP second factors: enrolment, recovery codes, the code check of every login. */
  secondFactors: SecondFactorService;
  local: LocalAccountsProvider;
  /** Every identity provider (local, pam, ldap, chains), as configured. */
  identity: IdentitySources;
  clock: Clock;
  /** The password hashing's admission (its queue and limit, for the metrics). */
  hashing: { stats(): { limit: number; inFlight: number; queued: number; refused: number } };
  isAdministrator(roles: readonly string[]): boolean;
  /** The controls of client-testing mode; undefined unless `clientTesting.enabled`. */
  testing: ClientTesting | undefined;
  /** Off the request path: deletes expired sessions (audited), audit events past retention, stale failure counters and login sources. */
  sweep(): Promise<{ sessions: number; audit: number; guard: number }>;
  /** Writes what is kept behind and closes the stores and identity sources. */
  close(): Promise<void>;
}

export async function openPortcullis(
  config: Config,
  logger: Logger,
  opts: { clock?: Clock; random?: Random; touchFlushMs?: number; migrate?: boolean } = {},
): Promise<Portcullis> {
  // Client-testing mode moves "now" by an offset; everything reads time through this one clock.
  const offsetClock = config.clientTesting.enabled ? new OffsetClock(opts.clock ?? systemClock) : undefined;
  const clock: Clock = offsetClock ?? opts.clock ?? systemClock;
  const random = opts.random ?? cryptoRandom;
  const stores = await openStores(config, logger, {
    ...(opts.touchFlushMs !== undefined ? { touchFlushMs: opts.touchFlushMs } : {}),
    ...(opts.migrate !== undefined ? { migrate: opts.migrate } : {}),
  });
  const { durable, hot } = stores;
  const a = config.argon2;
  const hasher = new Argon2idHasher(
    { memoryKiB: a.memoryKiB, iterations: a.iterations, parallelism: a.parallelism },
    {
      ...(a.verifyThreads !== undefined ? { threads: a.verifyThreads } : {}),
      nice: a.nice,
      admission: {
        maxQueue: a.maxQueue,
        maxWaitMs: a.maxWaitMs,
        targetDelayMs: a.targetDelayMs,
        perSourceLimit: config.flood.perSourceLogins,
        perAccountLimit: config.flood.perAccountLogins,
        perClientLimit: config.flood.perClientLogins,
        newShare: config.flood.newClientShare,
      },
    },
  );
  // Local names: looked up ignoring case (docs/identities.md); an account's stored name is its identity.
  // Logins through local accounts are scheduled by the session service (admitted before their store reads, verified in their lane).
  const local = new LocalAccountsProvider(durable, hasher.scheduled, () => clock.now(), caseFold);
  const knownClients = new KnownClients(config.flood.knownClients);

  // Every provider a dialect names exists; those not set up answer "not configured".
  let identity: IdentitySources;
  try {
    identity = buildIdentitySources(config, { local, accounts: durable, logger });
  } catch (e) {
    await stores.close();
    throw e;
  }
  const identities = identity.providers;

  const defaults = settingsFromConfig(config);
  const problem = settingsProblem(defaults);
  if (problem) {
    identity.close();
    await stores.close();
    throw new ConfigError(`invalid configuration: accountSettings: ${problem}`);
  }
  const settings = new SettingsService(durable, defaults, clock);
  let auditSink: AuditSink | undefined;
  try {
    auditSink = openAuditSinks(config.auditSinks, logger);
  } catch (e) {
    identity.close();
    await stores.close();
    throw new ConfigError(`invalid configuration: ${(e as Error).message}`);
  }
  const audit = new AuditService(durable, clock, logger, {}, auditSink);
  const adminRoles = new Set(config.accounts.adminRoles);
  const isAdministrator = (roles: readonly string[]) => roles.some((r) => adminRoles.has(r));
  const secondFactors = new SecondFactorService({ store: durable, clock, random, audit, logger, policy: config.totp, isAdministrator });
  const bruteForce = {
    sourceMaxFailures: config.bruteForce.sourceMaxFailures,
    sourceWindowMs: config.bruteForce.sourceWindowMinutes * 60_000,
    trustedSourceMs: config.bruteForce.trustedSourceDays * 86_400_000,
  };
  const sessions = new SessionService({
    sessions: hot,
    accounts: durable,
    guard: hot,
    settings,
    audit,
    bruteForce,
    identities,
    domains: failureDomains(config),
    admission: hasher.admission,
    knownClients,
    secondFactors,
    clock,
    random,
    logger,
    policy: {
      idleTimeoutMs: Math.round(config.session.inactivityTimeoutMinutes * 60_000),
      absoluteLifetimeMs: Math.round(config.session.absoluteTimeoutMinutes * 60_000),
    },
  });
  const accounts = new AccountService({
    accounts: durable,
    sessions: hot,
    guard: hot,
    settings,
    audit,
    hasher,
    clock,
    random,
    logger,
    domains: failureDomains(config),
    defaults: {
      enterprise: config.accounts.enterprise,
      organizations: config.accounts.organizations,
      adminRoles: config.accounts.adminRoles,
    },
  });
  const sources = new SourceService({ guard: hot, audit, clock, logger, bruteForce, admission: hasher.admission });
  const testing = offsetClock
    ? new ClientTesting({ sessions, accounts, audit, clock: offsetClock, logger, maxRules: config.clientTesting.maxRules })
    : undefined;
  return {
    testing,
    config,
    stores,
    sessions,
    accounts,
    settings,
    audit,
    sources,
    knownClients,
    async loadKnownClients() {
      if (knownClients.capacity === 0) return 0;
      const since = clock.now() - Math.max(1, config.bruteForce.trustedSourceDays) * 86_400_000;
      knownClients.load(await hot.listLoginSources(since, knownClients.capacity));
      return knownClients.size;
    },
    auditSink,
    secondFactors,
    local,
    identity,
    clock,
    hashing: hasher.admission,
    isAdministrator,
    async sweep() {
      const now = clock.now();
      const day = 86_400_000;
      const ended = await sessions.sweep();
      const auditGone = await audit.prune(config.audit.retentionDays * day);
      // Counters whose run began over a week ago (the longest source window) and are not locked; sources past their trust.
      const guardGone = await hot.pruneLoginGuard(now, now - 7 * day, now - Math.max(1, config.bruteForce.trustedSourceDays) * day);
      return { sessions: ended, audit: auditGone, guard: guardGone };
    },
    close: async () => {
      testing?.close();
      await audit.flushRefusals();
      identity.close();
      await stores.close();
      await auditSink?.close();
    },
  };
}

/** The account settings the configuration file seeds (stored values win over them). */
export function settingsFromConfig(config: Config): AccountSettings {
  return {
    InactivityTimeout: Math.round(config.session.inactivityTimeoutMinutes),
    SessionLifetime: Math.max(1, Math.round(config.session.absoluteTimeoutMinutes)),
    LockoutTime: config.accountSettings.LockoutTime,
    MaximumLoginFailures: config.accountSettings.MaximumLoginFailures,
    MaxConcurrentSessions: config.accountSettings.MaxConcurrentSessions,
    MaximumPasswordExpiration: config.accountSettings.MaximumPasswordExpiration,
    MinimumPasswordLength: config.accounts.minPasswordLength,
    MinimumPasswordReuseCycle: config.accountSettings.MinimumPasswordReuseCycle,
  };
}
