import type { Logger } from '../../../core/logger.js';
import { IdentitySourceError, type AuthOutcome } from '../../../ports/identity.js';
import { mapGroups, type GroupMapping } from '../../../identity/mapping.js';
import { toAuthOutcome, type CheckOutcome, type CheckingProvider } from '../../../identity/outcome.js';
import type { PamAnswer } from './pool.js';

// Linux-PAM result codes (security/_pam_types.h) that the helper reports as refusals.
const PAM_PERM_DENIED = 6;
const PAM_USER_UNKNOWN = 10;
const PAM_NEW_AUTHTOK_REQD = 12;
const PAM_ACCT_EXPIRED = 13;

/**
 * Names an OS account can have (POSIX portable names, plus `@` and `\` for
 * directory-backed NSS such as sssd). Anything else is "unknown" without asking
 * PAM, so odd input never reaches a module.
 */
const OS_NAME = /^[A-Za-z0-9_.][A-Za-z0-9_.@\\-]*\$?$/;

export interface PamChecker {
  check(username: string, password: string): Promise<PamAnswer>;
}

export interface PamProviderOptions {
  pool: PamChecker;
  mapping: GroupMapping;
  enterprise: string;
  /** Whether uid 0 may log in (default false: root is refused even with the right password). */
  allowRoot: boolean;
  logger?: Logger | undefined;
}

/**
 * The host's OS accounts through PAM (service `identity.pam.service`, shipped as
 * `pam/portcullis`). Roles and organizations come from the account's Unix groups
 * through `identity.pam.groupRoles` / `groupOrganizations`, re-read at each login.
 */
export class PamProvider implements CheckingProvider {
  readonly name = 'pam';

  constructor(private readonly o: PamProviderOptions) {}

  async authenticate(username: string, password: string): Promise<AuthOutcome> {
    return toAuthOutcome(await this.check(username, password));
  }

  async check(username: string, password: string): Promise<CheckOutcome> {
    if (password.length === 0 || password.includes('\u0000')) return { ok: false, reason: 'invalid_credentials' };
    if (!OS_NAME.test(username)) return { ok: false, reason: 'unknown_user', detail: 'not a possible OS account name' };
    if (username === 'root' && !this.o.allowRoot) return { ok: false, reason: 'disabled', detail: 'root may not log in (identity.pam.allowRoot: false)' };

    const a = await this.o.pool.check(username, password);
    if (a.kind === 'error') throw new IdentitySourceError(this.name, `PAM could not answer: ${a.message} (PAM code ${a.code})`);
    if (a.kind === 'fail') {
      const detail = `PAM ${a.stage === 'auth' ? 'pam_authenticate' : 'pam_acct_mgmt'}: ${a.message} (PAM code ${a.code})`;
      this.o.logger?.info({ event: 'pam.refused', user: username, stage: a.stage, pamCode: a.code, detail }, 'PAM refused the login');
      if (a.stage === 'auth') return { ok: false, reason: a.code === PAM_USER_UNKNOWN ? 'unknown_user' : 'invalid_credentials', detail };
      if (a.code === PAM_ACCT_EXPIRED || a.code === PAM_PERM_DENIED) return { ok: false, reason: 'disabled', detail };
      // The password has expired: it must be changed on the host, Portcullis cannot do it.
      if (a.code === PAM_NEW_AUTHTOK_REQD) return { ok: false, reason: 'locked', detail };
      return { ok: false, reason: 'disabled', detail };
    }
    if (a.uid === 0 && !this.o.allowRoot) return { ok: false, reason: 'disabled', detail: 'uid 0 may not log in (identity.pam.allowRoot: false)' };
    const { roles, organizations } = mapGroups(
      a.groups.map((g) => [g]),
      this.o.mapping,
    );
    return {
      ok: true,
      principal: {
        username: a.user,
        roles,
        organizations,
        enterprise: this.o.enterprise,
        mustChangePassword: false,
        source: this.name,
        authServer: '127.0.0.1',
      },
      groups: a.groups,
    };
  }
}
