import { IdentitySourceError, type AuthOutcome, type IdentityProvider } from '../../ports/identity.js';

/** Stands for an identity source named in a dialect but not set up: it never says yes. */
export class UnconfiguredProvider implements IdentityProvider {
  constructor(readonly name: string) {}

  authenticate(): Promise<AuthOutcome> {
    return Promise.reject(new IdentitySourceError(this.name, `identity source "${this.name}" is not configured`));
  }
}
