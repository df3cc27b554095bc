import type { PasswordHasher } from '../../../ports/hasher.js';
import type { AuthOutcome, IdentityProvider } from '../../../ports/identity.js';
import type { Account, AccountStore } from '../../../ports/store.js';

/**
 * Portcullis's own accounts. Every path verifies exactly one argon2id hash with
 * the current parameters (a decoy for unknown users, accounts without a password
 * and disabled accounts), so the response time does not tell whether a user exists.
 */
export class LocalAccountsProvider implements IdentityProvider {
  readonly name = 'local';
  private decoy: Promise<string> | undefined;

  /**
   * @param nameKey When given, names are looked up case-insensitively: a typed
   *   name with no account of exactly that name finds the one account whose
   *   name has the same key (the core's caseFold); two such accounts (made
   *   before names were unique by key) are ambiguous and find neither.
   */
  constructor(
    private readonly accounts: AccountStore,
    private readonly hasher: PasswordHasher,
    private readonly now: () => number,
    private readonly nameKey?: (name: string) => string,
  ) {}

  /**
   * The account a typed name means: the exact name, else the one account with
   * the same key. Both reads happen on every call, so the time does not tell
   * an exact spelling from another one or from no account.
   */
  async findAccount(username: string): Promise<Account | null> {
    if (!this.nameKey) return this.accounts.getAccount(username);
    const key = this.nameKey;
    const [exact, all] = await Promise.all([this.accounts.getAccount(username), this.accounts.listAccounts()]);
    if (exact) return exact;
    const k = key(username);
    const same = all.filter((a) => key(a.username) === k);
    return same.length === 1 ? same[0]! : null;
  }

  private decoyHash(): Promise<string> {
    this.decoy ??= this.hasher.hash('portcullis-decoy-' + Math.random().toString(36));
    return this.decoy;
  }

  /** Computes the decoy hash ahead of the first login, so the first unknown-user login is not slower. */
  async warmUp(): Promise<void> {
    await this.decoyHash();
  }

  async authenticate(username: string, password: string): Promise<AuthOutcome> {
    const account = await this.findAccount(username);
    const stored = account?.passwordHash ?? null;
    // One verification on every path: the stored hash, or the decoy when there is none.
    const matches = await this.hasher.verify(stored ?? (await this.decoyHash()), password);
    if (!account) return { ok: false, reason: 'invalid_credentials' };
    // The stored name, not the typed one: `ALICE` is the account `alice`.
    const identity = { username: account.username, source: this.name };
    if (stored === null || !matches) return { ok: false, reason: 'invalid_credentials', identity };
    if (account.disabled) return { ok: false, reason: 'disabled', identity };

    if (this.hasher.needsRehash(stored)) {
      const upgraded = await this.hasher.hash(password);
      await this.accounts.updateAccount(account.username, { passwordHash: upgraded }, this.now());
    }
    return {
      ok: true,
      principal: {
        username: account.username,
        roles: account.roles,
        organizations: account.organizations,
        enterprise: account.enterprise,
        mustChangePassword: account.mustChangePassword,
        source: this.name,
        authServer: '127.0.0.1',
      },
    };
  }
}
