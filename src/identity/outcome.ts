import type { AuthOutcome, IdentityProvider } from '../ports/identity.js';

/**
 * What a provider can tell a chain of providers, and nobody else: besides the
 * port's outcomes, "this source does not know the user". The port deliberately
 * merges "unknown" into `invalid_credentials`; only {@link ChainProvider} needs
 * the difference, to decide whether the next source may answer.
 */
export type CheckOutcome = (AuthOutcome | { ok: false; reason: 'unknown_user' }) & {
  /** The groups the source reported (successful checks), for `portcullis identity test`. */
  groups?: string[];
  /** Why, in the source's own terms, for the logs and `portcullis identity test`; never shown to clients. */
  detail?: string;
};

/** An identity provider that can say "unknown user" apart from "wrong password". */
export interface CheckingProvider extends IdentityProvider {
  check(username: string, password: string): Promise<CheckOutcome>;
}

/** The port's view of a check: "unknown user" becomes `invalid_credentials`, like a wrong password. */
export function toAuthOutcome(o: CheckOutcome): AuthOutcome {
  if (o.ok) return { ok: true, principal: o.principal };
  if (o.reason === 'unknown_user') return { ok: false, reason: 'invalid_credentials' };
  return { ok: false, reason: o.reason, ...(o.identity && { identity: o.identity }) };
}
