import type { Clock } from '../ports/clock.js';
import type { PasswordHasher } from '../ports/hasher.js';
import type { Random } from '../ports/random.js';
import { DuplicateAccountError, type Account, type AccountStore, type SessionStore } from '../ports/store.js';
import { CoreError } from './errors.js';
import { newPasswordProblem, normalizeUsername, usernameProblem } from './input.js';
import type { Logger } from './logger.js';

export interface AccountDefaults {
  enterprise: string;
  organizations: string[];
  /** Roles of the first administrator created on an empty store. */
  adminRoles: string[];
  minPasswordLength: number;
}

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
      accounts: AccountStore;
      sessions: SessionStore;
      hasher: PasswordHasher;
      clock: Clock;
      random: Random;
      logger: Logger;
      defaults: AccountDefaults;
    },
  ) {}

  async create(input: NewAccountInput): Promise<Account> {
    const problem = usernameProblem(input.username);
    if (problem) throw new CoreError('invalid_input', `username ${problem}`);
    const username = normalizeUsername(input.username);
    const pw = newPasswordProblem(input.password, username, this.d.defaults.minPasswordLength);
    if (pw) throw new CoreError('invalid_input', `password ${pw}`);
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
      this.d.clock.now(),
    );
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

  /** Sets a new password and ends the user's sessions (they were opened with the old one). */
  async setPassword(username: string, password: string, opts: { mustChange: boolean }): Promise<void> {
    const a = await this.get(username);
    const pw = newPasswordProblem(password, a.username, this.d.defaults.minPasswordLength);
    if (pw) throw new CoreError('invalid_input', `password ${pw}`);
    const passwordHash = await this.d.hasher.hash(password);
    await this.d.accounts.updateAccount(a.username, { passwordHash, mustChangePassword: opts.mustChange }, this.d.clock.now());
    const ended = await this.d.sessions.deleteSessionsOfUser(a.username);
    this.d.logger.info({ event: 'account.password_set', user: a.username, sessionsEnded: ended }, 'password changed');
  }

  async setDisabled(username: string, disabled: boolean): Promise<void> {
    const a = await this.get(username);
    await this.d.accounts.updateAccount(a.username, { disabled }, this.d.clock.now());
    const ended = disabled ? await this.d.sessions.deleteSessionsOfUser(a.username) : 0;
    this.d.logger.info({ event: disabled ? 'account.disable' : 'account.enable', user: a.username, sessionsEnded: ended }, 'account state changed');
  }

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
    return updated;
  }

  async delete(username: string): Promise<void> {
    const a = await this.get(username);
    await this.d.sessions.deleteSessionsOfUser(a.username);
    await this.d.accounts.deleteAccount(a.username);
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
