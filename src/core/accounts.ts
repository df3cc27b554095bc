import type { Clock } from '../ports/clock.js';
import type { PasswordHasher } from '../ports/hasher.js';
import type { Random } from '../ports/random.js';
import { DuplicateAccountError, type Account, type AccountStore, type LoginGuardStore, type PasswordHistoryStore, type SessionStore } from '../ports/store.js';
import type { AuditContext, AuditService } from './audit.js';
import type { SettingsService } from './settings.js';
import { ACCOUNT_FAILURE_WINDOW_MS } from './sessions.js';
import { CoreError } from './errors.js';
import { caseFold, foldName, looksQualified, RESERVED_PREFIXES } from './identity-key.js';
import { newPasswordProblem, normalizeUsername, usernameProblem } from './input.js';
import type { Logger } from './logger.js';

export interface AccountDefaults {
  enterprise: string;
  organizations: string[];
  /** Roles of the first administrator created on an empty store. */
  adminRoles: string[];
}

/** Keep at least this many old hashes, so raising MinimumPasswordReuseCycle later has history to check. */
const HISTORY_KEPT = 24;

const CLI: AuditContext = { requestId: 'cli', clientAddress: 'cli', dialect: 'cli' };

export interface NewAccountInput {
  username: string;
  password: string;
  roles: string[];
  organizations?: string[];
  enterprise?: string;
  mustChangePassword?: boolean;
}

/** A view of an account that is safe to print: everything but the hash. */
export type AccountView = Omit<Account, 'passwordHash'> & { hasPassword: boolean };

export function viewAccount(a: Account): AccountView {
  const { passwordHash, ...rest } = a;
  return { ...rest, hasPassword: passwordHash !== null };
}

const ROLE_OR_ORG = /^[^\p{Cc}]{1,128}$/u;

function checkNames(kind: string, names: string[]): string[] {
  for (const n of names) {
    if (!ROLE_OR_ORG.test(n) || n.trim() !== n) throw new CoreError('invalid_input', `${kind} "${n}" is not a valid name`);
  }
  return [...new Set(names)];
}

/** Local account administration. Ending a user's sessions when the account changes lives here, once. */
export class AccountService {
  constructor(
    private readonly d: {
      accounts: AccountStore & PasswordHistoryStore;
      sessions: SessionStore;
      guard: LoginGuardStore;
      settings: SettingsService;
      audit: AuditService;
      hasher: PasswordHasher;
      clock: Clock;
      random: Random;
      logger: Logger;
      defaults: AccountDefaults;
      /** `identity.domains` (identity-key.ts foldName): the failure key of a name; default none. */
      domains?: readonly string[];
    },
  ) {}

  async create(input: NewAccountInput): Promise<Account> {
    const problem = usernameProblem(input.username);
    if (problem) throw new CoreError('invalid_input', `username ${problem}`);
    const username = normalizeUsername(input.username);
    const pw = newPasswordProblem(input.password, username, (await this.d.settings.get()).MinimumPasswordLength);
    if (pw) throw new CoreError('invalid_input', `password ${pw}`);
    if (looksQualified(username)) throw new CoreError('invalid_input', `username must not start with an identity source's prefix (${RESERVED_PREFIXES.map((p) => p + ':').join(', ')})`);
    // Local names are looked up ignoring case (README "Identities"): a name that only differs in case from another account's would be ambiguous.
    const clash = (await this.d.accounts.listAccounts()).find((a) => a.username !== username && caseFold(a.username) === caseFold(username));
    if (clash) throw new CoreError('invalid_input', `username differs only in case from an existing account's`);
    const now = this.d.clock.now();
    const account = await this.d.accounts.createAccount(
      {
        username,
        roles: checkNames('role', input.roles),
        organizations: checkNames('organization', input.organizations ?? this.d.defaults.organizations),
        enterprise: input.enterprise ?? this.d.defaults.enterprise,
        disabled: false,
        mustChangePassword: input.mustChangePassword ?? false,
        passwordHash: await this.d.hasher.hash(input.password),
      },
      now,
    );
    await this.d.accounts.addPasswordHistory(username, account.passwordHash!, now, HISTORY_KEPT);
    this.d.logger.info({ event: 'account.create', user: username }, 'account created');
    return account;
  }

  list(): Promise<Account[]> {
    return this.d.accounts.listAccounts();
  }

  async get(username: string): Promise<Account> {
    const a = await this.d.accounts.getAccount(normalizeUsername(username));
    if (!a) throw new CoreError('not_found', `no account named "${username}"`);
    return a;
  }

  /**
   * The password rules, in one place: syntax and MinimumPasswordLength, not the
   * username, not one of the last MinimumPasswordReuseCycle passwords.
   */
  private async checkNewPassword(username: string, password: string): Promise<void> {
    const settings = await this.d.settings.get();
    const pw = newPasswordProblem(password, username, settings.MinimumPasswordLength);
    if (pw) throw new CoreError('invalid_input', `password ${pw}`);
    for (const old of await this.d.accounts.getPasswordHistory(username, settings.MinimumPasswordReuseCycle)) {
      if (await this.d.hasher.verify(old.passwordHash, password)) {
        throw new CoreError('invalid_input', `password must not be one of the last ${settings.MinimumPasswordReuseCycle} passwords of this account`);
      }
    }
  }

  private async storePassword(username: string, password: string, mustChange: boolean): Promise<void> {
    const passwordHash = await this.d.hasher.hash(password);
    const now = this.d.clock.now();
    await this.d.accounts.updateAccount(username, { passwordHash, mustChangePassword: mustChange }, now);
    await this.d.accounts.addPasswordHistory(username, passwordHash, now, HISTORY_KEPT);
  }

  /** An administrator sets a new password (a reset) and ends the user's sessions (they were opened with the old one). */
  async setPassword(username: string, password: string, opts: { mustChange: boolean }, ctx: AuditContext = CLI, by = 'cli'): Promise<void> {
    const a = await this.get(username);
    await this.checkNewPassword(a.username, password);
    await this.storePassword(a.username, password, opts.mustChange);
    const ended = await this.d.sessions.deleteSessionsOfUser(a.username);
    this.d.logger.info({ event: 'account.password_set', user: a.username, sessionsEnded: ended }, 'password changed');
    await this.d.audit.record('password.reset', ctx, a.username, { by, mustChange: opts.mustChange, sessionsEnded: ended });
  }

  /**
   * A user changes their own password with the current one. Clears must-change,
   * ends the user's other sessions and keeps `keepSessionId` (the caller's),
   * which from then on may do everything. Returns false when the current password is wrong.
   */
  async changeOwnPassword(username: string, current: string, next: string, keepSessionId: string | undefined, ctx: AuditContext): Promise<boolean> {
    const a = await this.get(username);
    if (a.disabled || a.passwordHash === null || !(await this.d.hasher.verify(a.passwordHash, current))) {
      await this.d.audit.record('login.failure', ctx, a.username, { reason: 'password_change_wrong_current' });
      return false;
    }
    if (current === next) throw new CoreError('invalid_input', 'password must differ from the current one');
    await this.replaceOwnPassword(a.username, next, keepSessionId, ctx);
    return true;
  }

  /**
   * A user sets their own password from a session (or HTTP Basic) that already proved
   * it, without sending the current one again: Redfish's PATCH of the account's
   * `Password`. The same rules and effects as {@link changeOwnPassword}: must-change
   * cleared, the user's other sessions ended, `keepSessionId` kept and unrestricted.
   */
  async setOwnPassword(username: string, next: string, keepSessionId: string | undefined, ctx: AuditContext): Promise<void> {
    const a = await this.get(username);
    if (a.disabled || a.passwordHash === null) throw new CoreError('forbidden', 'the account cannot change its password');
    if (await this.d.hasher.verify(a.passwordHash, next)) throw new CoreError('invalid_input', 'password must differ from the current one');
    await this.replaceOwnPassword(a.username, next, keepSessionId, ctx);
  }

  private async replaceOwnPassword(username: string, next: string, keepSessionId: string | undefined, ctx: AuditContext): Promise<void> {
    const a = { username }; // already normalized by get()
    await this.checkNewPassword(a.username, next);
    await this.storePassword(a.username, next, false);
    let ended = 0;
    for (const s of await this.d.sessions.listSessions({ username: a.username })) {
      if (s.id === keepSessionId) {
        // Sessions are immutable but for lastAccessedAt: replace the caller's with one that may do everything.
        if (s.mustChangePassword) {
          await this.d.sessions.deleteSession(s.id);
          await this.d.sessions.createSession({ ...s, mustChangePassword: false });
        }
      } else if (await this.d.sessions.deleteSession(s.id)) ended++;
    }
    this.d.logger.info({ event: 'account.password_change', user: a.username, sessionsEnded: ended }, 'password changed by its user');
    await this.d.audit.record('password.change', ctx, a.username, { sessionsEnded: ended });
  }

  async setDisabled(username: string, disabled: boolean, ctx: AuditContext = CLI, by = 'cli'): Promise<void> {
    const a = await this.get(username);
    await this.d.accounts.updateAccount(a.username, { disabled }, this.d.clock.now());
    const ended = disabled ? await this.d.sessions.deleteSessionsOfUser(a.username) : 0;
    this.d.logger.info({ event: disabled ? 'account.disable' : 'account.enable', user: a.username, sessionsEnded: ended }, 'account state changed');
    await this.d.audit.record(disabled ? 'account.disable' : 'account.enable', ctx, a.username, { by, sessionsEnded: ended });
  }

  /** Lifts a lockout (and the failure count) of an account name. Returns whether it was locked. */
  async unlock(username: string, ctx: AuditContext = CLI, by = 'cli'): Promise<boolean> {
    // The lock is kept under the folded name, whichever spelling caused it (identity-key.ts).
    const name = this.failureKey(username);
    const state = await this.d.guard.getLoginFailures('account', name, this.d.clock.now(), ACCOUNT_FAILURE_WINDOW_MS);
    await this.d.guard.clearLoginFailures('account', name);
    this.d.logger.info({ event: 'account.unlock', user: name, wasLocked: state.locked, by }, 'account unlocked');
    await this.d.audit.record('account.unlock', ctx, name, { by, wasLocked: state.locked });
    return state.locked;
  }

  /**
   * Locks an account name now, exactly as the brute-force rule would (for
   * LockoutTime minutes; 0 = until unlocked), whether or not a local account has
   * that name: directory and PAM users are locked by name too.
   */
  async lock(username: string, ctx: AuditContext = CLI, by = 'cli'): Promise<{ lockedUntil: number }> {
    // The same key as the brute-force rule and unlock: the folded name (identity-key.ts).
    const name = this.failureKey(username);
    const policy = await this.d.settings.get();
    const state = await this.d.guard.recordLoginFailure('account', name, this.d.clock.now(), {
      limit: 1,
      windowMs: ACCOUNT_FAILURE_WINDOW_MS,
      lockMs: policy.LockoutTime * 60_000,
    });
    this.d.logger.info({ event: 'account.lock', user: name, by, lockedUntil: state.lockedUntil }, 'account locked');
    await this.d.audit.record('account.lock', ctx, name, { by, lockedUntil: state.lockedUntil, lockoutMinutes: policy.LockoutTime });
    return { lockedUntil: state.lockedUntil };
  }

  /**
   * Marks (or clears) "must change password" on a local account and on its live
   * sessions, so the next call through any dialect meets the forced-change gate.
   * Returns how many sessions were marked.
   */
  async setMustChangePassword(username: string, mustChange: boolean, ctx: AuditContext = CLI, by = 'cli'): Promise<number> {
    const a = await this.get(username);
    await this.d.accounts.updateAccount(a.username, { mustChangePassword: mustChange }, this.d.clock.now());
    let marked = 0;
    for (const s of await this.d.sessions.listSessions({ username: a.username })) {
      if (s.mustChangePassword === mustChange) continue;
      // Sessions are immutable but for lastAccessedAt: replace each with its marked copy (same token, same times).
      if (await this.d.sessions.deleteSession(s.id)) {
        await this.d.sessions.createSession({ ...s, mustChangePassword: mustChange });
        marked++;
      }
    }
    this.d.logger.info({ event: 'account.must_change', user: a.username, mustChange, sessions: marked, by }, 'forced password change set');
    await this.d.audit.record('password.reset', ctx, a.username, { by, mustChange, passwordKept: true, sessionsMarked: marked });
    return marked;
  }

  /** Whether the account name is locked now, and its failure count. */
  lockState(username: string) {
    return this.d.guard.getLoginFailures('account', this.failureKey(username), this.d.clock.now(), ACCOUNT_FAILURE_WINDOW_MS);
  }

  private failureKey(username: string): string {
    return foldName(normalizeUsername(username), this.d.domains ?? []);
  }

  /**
   * Changes roles, organizations or the enterprise. Sessions are immutable, so a
   * change of roles ends the user's sessions (they would otherwise keep the old rights).
   */
  async update(username: string, patch: { roles?: string[]; organizations?: string[]; enterprise?: string }): Promise<Account> {
    const a = await this.get(username);
    const updated = await this.d.accounts.updateAccount(
      a.username,
      {
        ...(patch.roles && { roles: checkNames('role', patch.roles) }),
        ...(patch.organizations && { organizations: checkNames('organization', patch.organizations) }),
        ...(patch.enterprise !== undefined && { enterprise: patch.enterprise }),
      },
      this.d.clock.now(),
    );
    if (!updated) throw new CoreError('not_found', `no account named "${username}"`);
    const rolesChanged = patch.roles !== undefined && [...new Set(patch.roles)].sort().join('\n') !== [...a.roles].sort().join('\n');
    if (rolesChanged) {
      const ended = await this.d.sessions.deleteSessionsOfUser(a.username);
      this.d.logger.info({ event: 'account.update', user: a.username, sessionsEnded: ended }, 'account changed; its sessions were ended');
    }
    return updated;
  }

  async delete(username: string): Promise<void> {
    const a = await this.get(username);
    await this.d.sessions.deleteSessionsOfUser(a.username);
    await this.d.accounts.deleteAccount(a.username);
    await this.d.accounts.deletePasswordHistory(a.username);
    await this.d.guard.clearLoginFailures('account', this.failureKey(a.username));
    this.d.logger.info({ event: 'account.delete', user: a.username }, 'account deleted');
  }

  /**
   * On an empty store, creates `admin` with a random password that must be changed
   * at first login, and returns that password (to be shown once). Otherwise null.
   */
  async ensureFirstAdmin(): Promise<{ username: string; password: string } | null> {
    if ((await this.d.accounts.countAccounts()) > 0) return null;
    const password = this.d.random.bytes(18).toString('base64url');
    try {
      await this.create({ username: 'admin', password, roles: this.d.defaults.adminRoles, mustChangePassword: true });
    } catch (e) {
      if (e instanceof DuplicateAccountError) return null; // another process made it first
      throw e;
    }
    return { username: 'admin', password };
  }
}
