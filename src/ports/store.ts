/**
 * Storage ports. Every adapter (SQLite now, PostgreSQL and Redis later) must pass
 * the contract suites in test/contract/, which test exactly the rules written here.
 *
 * Units: every time is milliseconds since the epoch; every duration is milliseconds.
 */

export interface Account {
  username: string;
  roles: string[];
  organizations: string[];
  enterprise: string;
  disabled: boolean;
  mustChangePassword: boolean;
  /** argon2id PHC string; null for an account that cannot log in with a password. */
  passwordHash: string | null;
  createdAt: number;
  updatedAt: number;
}

export type NewAccount = Omit<Account, 'createdAt' | 'updatedAt'>;
export type AccountPatch = Partial<Omit<Account, 'username' | 'createdAt' | 'updatedAt'>>;

export class DuplicateAccountError extends Error {
  constructor(readonly username: string) {
    super(`an account named "${username}" already exists`);
    this.name = 'DuplicateAccountError';
  }
}

export interface AccountStore {
  /** Throws {@link DuplicateAccountError} when the username is taken (exact, case-sensitive match). */
  createAccount(account: NewAccount, now: number): Promise<Account>;
  getAccount(username: string): Promise<Account | null>;
  /** Every account, sorted by username. */
  listAccounts(): Promise<Account[]>;
  /** Every account's username, sorted (the local provider's lookup ignoring case reads it at each login: names only, cheap). */
  listAccountNames(): Promise<string[]>;
  /** Returns the updated account, or null when there is none of that name. */
  updateAccount(username: string, patch: AccountPatch, now: number): Promise<Account | null>;
  deleteAccount(username: string): Promise<boolean>;
  countAccounts(): Promise<number>;
}

/** A session as stored. The bearer token itself is never stored, only its SHA-256. */
export interface SessionRecord {
  /** Public identifier (shown in listings, used to revoke); not a credential. */
  id: string;
  /** SHA-256 of the bearer token, 32 bytes. */
  tokenHash: Buffer;
  /** Anti-CSRF token for cookie-borne use of the session. */
  csrf: string;
  username: string;
  roles: string[];
  organizations: string[];
  enterprise: string;
  mustChangePassword: boolean;
  createdAt: number;
  lastAccessedAt: number;
  /** Inactivity allowed before the session ends; 0 = never. */
  idleTimeoutMs: number;
  /** Absolute end of the session, whatever the activity. */
  expiresAt: number;
  clientAddress: string;
  /** Identity provider that authenticated the user ("local", "pam", "ldap"). */
  authSource: string;
  /** Address of the authentication server. */
  authServer: string;
  /** Dialect the session was created through ("hcx", "lxca", ...). */
  dialect: string;
}

export interface SessionStore {
  /** Commits the session durably before resolving: it survives a crash of the process. */
  createSession(session: SessionRecord): Promise<void>;
  /** Looks a session up by the hash of its token; returns the latest lastAccessedAt known to this store. */
  findSessionByTokenHash(tokenHash: Buffer): Promise<SessionRecord | null>;
  /**
   * Optional, the session check without waiting: the session whose token hash is
   * `key` (its 32 bytes as a latin1 string) when this process holds it in memory and
   * it is still valid to answer from there (the store's coherence bound), else
   * undefined: not known here, ask `findSessionByTokenHash`. Never touches the backend.
   */
  cachedSession?(key: string): SessionRecord | undefined;
  getSession(id: string): Promise<SessionRecord | null>;
  /** All sessions, or one user's, oldest first. */
  listSessions(filter?: { username?: string }): Promise<SessionRecord[]>;
  /** How many sessions are stored (expired ones until the sweep deletes them), without reading them: O(1) or one index scan. */
  countSessions(): Promise<number>;
  /**
   * Records activity. Never moves lastAccessedAt backwards. May be written behind
   * (batched) by the adapter, but reads through the same store see it at once, and
   * it reaches durable storage within the adapter's documented flush interval.
   */
  touchSession(id: string, at: number): void | Promise<void>;
  deleteSession(id: string): Promise<boolean>;
  /** "Log out everywhere": deletes every session of the user; returns how many. */
  deleteSessionsOfUser(username: string): Promise<number>;
  /**
   * Deletes sessions past their absolute expiry, or idle for at least their idle
   * timeout, at `now`; returns the deleted records so callers can audit them.
   */
  deleteExpiredSessions(now: number): Promise<SessionRecord[]>;
}

/** Who a login failure counts against: the account's name, or the client's address. */
export type FailureScope = 'account' | 'source';

/** When failures lock. Durations in milliseconds. */
export interface FailureRule {
  /** Failures that lock; 0 = never lock. */
  limit: number;
  /** Failures older than this (counted from the first of the run) are forgotten; must be > 0. */
  windowMs: number;
  /** How long a lock lasts; 0 = until {@link LoginGuardStore.clearLoginFailures}. */
  lockMs: number;
}

/** The failure counter of one scope and subject at some time. */
export interface FailureState {
  count: number;
  /** Whether it is locked at the time asked. */
  locked: boolean;
  /** End of the lock: 0 when not locked, Number.MAX_SAFE_INTEGER when locked until cleared. */
  lockedUntil: number;
}

export const LOCKED_UNTIL_CLEARED = Number.MAX_SAFE_INTEGER;

/** A failure counter with what it counts, as listed for operators. */
export interface FailureEntry extends FailureState {
  subject: string;
  /** Time of the first failure of the run. */
  firstAt: number;
}

/** A remembered successful login: `username` logged in from `source` last at `at`. */
export interface LoginSourceEntry {
  username: string;
  source: string;
  at: number;
}

/**
 * Brute-force bookkeeping. The hard rule: {@link recordLoginFailure} is ONE atomic
 * step ("increment the failure count and tell me whether this locks"), never a read
 * followed by a write, so N parallel failures count exactly N and exactly one of
 * them reports `lockedNow`, the one whose count reaches `rule.limit`.
 */
export interface LoginGuardStore {
  /**
   * Atomically counts one failure at `now` and returns the counter after it.
   * A counter starts afresh (count 1) when there is none, when its lock has ended
   * (`lockedUntil <= now`), or when it is not locked and `now >= first + windowMs`
   * (first = time of the first failure of the run). While locked, failures are still
   * counted but the lock is not extended. A counter that reaches `rule.limit`
   * (> 0) locks until `now + lockMs` (lockMs 0: until cleared); `lockedNow` is true
   * for that one call only.
   */
  recordLoginFailure(scope: FailureScope, subject: string, now: number, rule: FailureRule): Promise<FailureState & { lockedNow: boolean }>;
  /** The counter at `now` (a lock that ended at or before `now` reads as unlocked, count 0). Never writes. */
  getLoginFailures(scope: FailureScope, subject: string, now: number, windowMs: number): Promise<FailureState>;
  /** Forgets the counter (a successful login, an administrator's unlock); returns whether there was one. */
  clearLoginFailures(scope: FailureScope, subject: string): Promise<boolean>;
  /** Remembers that `username` logged in successfully from `source` at `at` (the latest time wins). */
  rememberLoginSource(username: string, source: string, at: number): Promise<void>;
  /** When `username` last logged in successfully from `source`, or null. */
  lastLoginFromSource(username: string, source: string): Promise<number | null>;
  /**
   * The counters of `scope` alive at `now`, read as {@link getLoginFailures} reads
   * them (locked, or unlocked with `now < firstAt + windowMs`), most failures first
   * (then by subject), at most `limit`. Never writes. For operators (which sources
   * are throttled, which accounts locked), not for the login path.
   */
  listLoginFailures(scope: FailureScope, now: number, windowMs: number, limit: number): Promise<FailureEntry[]>;
  /**
   * Remembered logins ({@link rememberLoginSource}) last used at or after `since`,
   * newest first, at most `limit`: what a node loads at start so that it knows its
   * returning clients before the first of them logs in again.
   */
  listLoginSources(since: number, limit: number): Promise<LoginSourceEntry[]>;
  /**
   * Deletes counters that are not locked at `now` and whose run started before
   * `failuresBefore`, and login sources last used before `sourcesBefore`; returns how many rows.
   */
  pruneLoginGuard(now: number, failuresBefore: number, sourcesBefore: number): Promise<number>;
}

/** Password history, for "not one of the last N" and for password age. */
export interface PasswordHistoryStore {
  /** Appends a hash set at `at` and keeps only the newest `keep` (>= 1) of the user's entries. */
  addPasswordHistory(username: string, passwordHash: string, at: number, keep: number): Promise<void>;
  /** The user's newest `limit` entries, newest first. */
  getPasswordHistory(username: string, limit: number): Promise<{ passwordHash: string; at: number }[]>;
  /** Forgets the user's history (the account was deleted). */
  deletePasswordHistory(username: string): Promise<void>;
}

/** Named integer settings (account policy). Values are whole numbers; units belong to the caller. */
export interface SettingsStore {
  /** Every stored setting; names never stored are absent. */
  getSettings(): Promise<Record<string, number>>;
  /** Stores the given names in one transaction (all or none), leaving others as they are. */
  putSettings(values: Record<string, number>, now: number): Promise<void>;
}

/** One line of the audit trail. Never holds a password or a token. */
export interface AuditEvent {
  at: number;
  /** e.g. login.success, login.failure, account.lock, account.unlock, session.logout, session.expire, session.revoke, settings.change */
  kind: string;
  /** The user the event is about ('' when none). */
  username: string;
  clientAddress: string;
  dialect: string;
  requestId: string;
  /** Extra facts (reason, session id, who acted, changed settings). */
  detail: Record<string, string | number | boolean | null>;
}

export interface AuditRecord extends AuditEvent {
  /** Increases with every event appended to this store. */
  seq: number;
}

export interface AuditFilter {
  username?: string;
  kind?: string;
  /** Events at or after this time. */
  since?: number;
  /** At most this many, the newest; default 1000. */
  limit?: number;
}

export interface AuditStore {
  appendAudit(event: AuditEvent): Promise<void>;
  /** Matching events, oldest first (the newest `limit` of them). `kind` matches exactly or as a prefix ending in "." ("login." = every login event). */
  queryAudit(filter?: AuditFilter): Promise<AuditRecord[]>;
  /** Deletes events before `before`; returns how many. */
  pruneAudit(before: number): Promise<number>;
}

/**
 * Sessions with the per-user limit. The hard rule: counting the user's live
 * sessions and creating the new one is ONE atomic step, so parallel logins never
 * exceed the limit.
 */
export interface SessionLimitStore {
  /**
   * Creates the session (durably, as createSession) only when the user has fewer
   * than `limit` sessions alive at `now` (alive as in deleteExpiredSessions); 0 = no
   * limit. Returns whether it was created.
   */
  createSessionWithinLimit(session: SessionRecord, limit: number, now: number): Promise<boolean>;
}

/** A user's TOTP second factor (RFC 6238). Lives with the accounts (SQLite or PostgreSQL). */
export interface SecondFactor {
  username: string;
  /** The shared TOTP secret, base32 (RFC 4648, no padding). */
  secret: string;
  createdAt: number;
  /** When the first code confirmed the enrolment; null while it waits for one (not yet required at login). */
  confirmedAt: number | null;
  /** The highest TOTP time step accepted so far (-1: none): a code of that step or an earlier one is never accepted again. */
  lastStep: number;
  /** How many recovery codes are left unused. */
  recoveryLeft: number;
}

/**
 * Second factors. The hard rules: {@link claimTotpStep} and
 * {@link consumeRecoveryCode} are each ONE atomic step, so two logins racing with
 * the same code (or the same recovery code) succeed at most once.
 */
export interface SecondFactorStore {
  getSecondFactor(username: string): Promise<SecondFactor | null>;
  /**
   * Creates the user's factor, unconfirmed, replacing any earlier one and its
   * recovery codes (a new enrolment starts afresh).
   */
  putSecondFactor(username: string, secret: string, now: number): Promise<void>;
  /**
   * Confirms an unconfirmed factor at `now`, claims `step` and stores the recovery
   * code hashes, in one step. False (nothing changed) when there is no unconfirmed factor.
   */
  confirmSecondFactor(username: string, step: number, recoveryHashes: string[], now: number): Promise<boolean>;
  /** Atomically: when `step` > lastStep of a confirmed factor, stores it and returns true; otherwise false. */
  claimTotpStep(username: string, step: number): Promise<boolean>;
  /** Atomically removes one unused recovery code hash of a confirmed factor; true when it was there. */
  consumeRecoveryCode(username: string, hash: string): Promise<boolean>;
  /** Removes the factor and its recovery codes; returns whether there was one. */
  deleteSecondFactor(username: string): Promise<boolean>;
  /** Users with a confirmed factor, sorted. */
  listSecondFactorUsers(): Promise<string[]>;
}
