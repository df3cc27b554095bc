/**
 * The one catalogue of failures the core reports. Dialects map each code to their
 * own status and body; the core never chooses a status code or a message text
 * that a client sees.
 */
export const errorCodes = {
  invalid_input: 'The request is malformed or a field is missing, mistyped or not allowed.',
  unsupported_auth_type: 'The requested authentication type is not supported.',
  invalid_credentials: 'The credentials were not accepted (unknown user, wrong password, disabled or locked account).',
  forbidden: 'The user is authenticated but has no role that may use this interface or operation.',
  invalid_session: 'The session token is missing, unknown, expired or revoked.',
  csrf_mismatch: 'A state-changing request did not carry the session\'s CSRF token.',
  not_found: 'The named resource does not exist.',
  conflict: 'The resource already exists.',
  password_change_required: 'The account must change its password before doing anything else (only the password change and logout are allowed).',
  too_many_sessions: 'The user already has the maximum number of concurrent sessions (MaxConcurrentSessions).',
  identity_unavailable: 'The identity source could not answer (unreachable, too slow or not configured).',
  busy: 'Logins are arriving faster than passwords can be checked; retry shortly.',
  unavailable: 'A backend the service depends on (session or account store) is unreachable or too slow; retry shortly.',
  internal: 'An unexpected internal error.',
} as const;

export type ErrorCode = keyof typeof errorCodes;

/**
 * Codes that mean "the request was fine, the service cannot take it now": a client
 * should wait this many seconds and send it again. Dialects send it as `Retry-After`
 * with a 503. `busy` clears within a hash or two; a store that is down takes longer.
 */
export const retryAfterSeconds: Partial<Readonly<Record<ErrorCode, number>>> = { busy: 1, unavailable: 2 };

/** `retryAfterSeconds` for any problem code (transport codes included); undefined = not a retry-later failure. */
export function retryAfterFor(code: string): number | undefined {
  return Object.hasOwn(retryAfterSeconds, code) ? retryAfterSeconds[code as ErrorCode] : undefined;
}

export class CoreError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string = errorCodes[code],
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CoreError';
  }
}

export function isCoreError(e: unknown): e is CoreError {
  return e instanceof CoreError;
}
