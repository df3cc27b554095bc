import type { PasswordHasher } from '../../../ports/hasher.js';
import type { AuthOutcome, IdentityProvider } from '../../../ports/identity.js';
import type { AccountStore } from '../../../ports/store.js';

/**
 * Portcullis's own accounts. Every path verifies exactly one argon2id hash with
 * the current parameters (a decoy for unknown users, accounts without a password
 * and disabled accounts), so the response time does not tell whether a user exists.
 */
export class LocalAccountsProvider implements IdentityProvider {
  readonly name = 'local';
  private decoy: Promise<string> | undefined;

  constructor(
    private readonly accounts: AccountStore,
    private readonly hasher: PasswordHasher,
    private readonly now: () => number,
  ) {}

  private decoyHash(): Promise<string> {
    this.decoy ??= this.hasher.hash('portcullis-decoy-' + Math.random().toString(36));
    return this.decoy;
  }

  /** Computes the decoy hash ahead of the first login, so the first unknown-user login is not slower. */
  async warmUp(): Promise<void> {
    await this.decoyHash();
  }

  async authenticate(username: string, password: string): Promise<AuthOutcome> {
    const account = await this.accounts.getAccount(username);
    const stored = account?.passwordHash ?? null;
    // One verification on every path: the stored hash, or the decoy when there is none.
    const matches = await this.hasher.verify(stored ?? (await this.decoyHash()), password);
    if (!account || stored === null || !matches) return { ok: false, reason: 'invalid_credentials' };
    if (account.disabled) return { ok: false, reason: 'disabled' };

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
