/** Who a credential check proved someone to be. Plain data: roles are re-read at each login. */
export interface Principal {
  username: string;
  roles: string[];
  organizations: string[];
  enterprise: string;
  /** The account must change its password before doing anything else. */
  mustChangePassword: boolean;
  /** Which provider answered ("local", "pam", "ldap"). */
  source: string;
  /** Address of the server that authenticated the user ("127.0.0.1" for this host). */
  authServer: string;
}

/**
 * The outcome of a credential check. A wrong password, an unknown user or a
 * disabled account are normal outcomes (values), and deliberately share one
 * shape so no caller can tell them apart by accident; a source that cannot
 * answer (directory down, not configured) throws {@link IdentitySourceError}.
 */
export type AuthOutcome =
  | { ok: true; principal: Principal }
  | {
      ok: false;
      reason: 'invalid_credentials' | 'disabled' | 'locked';
      /**
       * Who the source found behind the typed name, when it found someone (a wrong
       * password for a known entry): the core counts the failure against that
       * person too. Never shown to the caller.
       */
      identity?: { username: string; source: string } | undefined;
    };

export interface IdentityProvider {
  readonly name: string;
  authenticate(username: string, password: string): Promise<AuthOutcome>;
}

/** The identity source could not give an answer. Never means "wrong password". */
export class IdentitySourceError extends Error {
  constructor(
    readonly source: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'IdentitySourceError';
  }
}
