import type { AuthOutcome, IdentityProvider } from '../ports/identity.js';
import type { AccountStore } from '../ports/store.js';
import type { CheckOutcome, CheckingProvider } from './outcome.js';

/**
 * The built-in accounts as a member of a chain: after the usual check (one
 * argon2id verification on every path), a refusal for a name that has no
 * account at all is "unknown user". An account that exists — even disabled or
 * without a password — is known, so the chain stops at it.
 */
export class LocalCheckingProvider implements CheckingProvider {
  readonly name: string;

  constructor(
    private readonly local: IdentityProvider,
    private readonly accounts: Pick<AccountStore, 'getAccount'>,
  ) {
    this.name = local.name;
  }

  authenticate(username: string, password: string): Promise<AuthOutcome> {
    return this.local.authenticate(username, password);
  }

  async check(username: string, password: string): Promise<CheckOutcome> {
    const outcome = await this.local.authenticate(username, password);
    if (outcome.ok || outcome.reason !== 'invalid_credentials') return outcome;
    // A provider that names the account it found knows the user; otherwise ask the store for the exact name.
    if (outcome.identity) return outcome;
    return (await this.accounts.getAccount(username)) ? outcome : { ok: false, reason: 'unknown_user' };
  }
}

/** Any provider as a chain member that never says "unknown" (so nothing after it is asked). */
export function asChecking(p: IdentityProvider): CheckingProvider {
  if ('check' in p && typeof (p as CheckingProvider).check === 'function') return p as CheckingProvider;
  return { name: p.name, authenticate: (u, pw) => p.authenticate(u, pw), check: (u, pw) => p.authenticate(u, pw) };
}
