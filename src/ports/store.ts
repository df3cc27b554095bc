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
  getSession(id: string): Promise<SessionRecord | null>;
  /** All sessions, or one user's, oldest first. */
  listSessions(filter?: { username?: string }): Promise<SessionRecord[]>;
  /**
   * Records activity. Never moves lastAccessedAt backwards. May be written behind
   * (batched) by the adapter, but reads through the same store see it at once, and
   * it reaches durable storage within the adapter's documented flush interval.
   */
  touchSession(id: string, at: number): Promise<void>;
  deleteSession(id: string): Promise<boolean>;
  /** "Log out everywhere": deletes every session of the user; returns how many. */
  deleteSessionsOfUser(username: string): Promise<number>;
  /**
   * Deletes sessions past their absolute expiry, or idle for at least their idle
   * timeout, at `now`; returns the deleted records so callers can audit them.
   */
  deleteExpiredSessions(now: number): Promise<SessionRecord[]>;
}
