import { IdentitySourceError, type AuthOutcome } from '../ports/identity.js';
import { toAuthOutcome, type CheckOutcome, type CheckingProvider } from './outcome.js';

/**
 * Several identity sources tried in order, e.g. XClarity's "local users first,
 * then the directory" (`lxca.provider: [local, ldap]`).
 *
 * The next source is asked **only when the previous one does not know the user
 * at all**. A known user with a wrong password, a disabled or locked account, or
 * a source that cannot answer ends the chain there:
 * - a local account cannot be taken over by a same-named directory user (or the
 *   reverse), since a name is decided by the first source that knows it;
 * - one login attempt is one password check against one account, never a guess
 *   tried against two sources (no double counting, no second chance);
 * - a source that is down is an error (500), never "unknown": otherwise a
 *   directory outage would silently hand its users' names to the next source.
 * Every refusal looks the same to the client. What remains observable is time:
 * a name unknown to the first source also costs the second one's round trip.
 */
export class ChainProvider implements CheckingProvider {
  constructor(
    readonly name: string,
    private readonly members: readonly CheckingProvider[],
  ) {
    if (members.length === 0) throw new Error('a chain of identity providers needs at least one member');
  }

  async check(username: string, password: string): Promise<CheckOutcome> {
    let last: CheckOutcome = { ok: false, reason: 'unknown_user' };
    for (const m of this.members) {
      try {
        last = await m.check(username, password);
      } catch (e) {
        if (e instanceof IdentitySourceError) throw e;
        throw new IdentitySourceError(m.name, `identity source "${m.name}" failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      }
      if (last.ok || last.reason !== 'unknown_user') return last;
    }
    return last;
  }

  async authenticate(username: string, password: string): Promise<AuthOutcome> {
    return toAuthOutcome(await this.check(username, password));
  }
}
