import { retryAfterFor } from '../../core/errors.js';
import type { DialectRenderer, Problem, ProblemCode } from '../../http/common.js';

/** The closed set of `errorCode` values the HCX seed documents. */
export type HcxErrorCode = 'BAD_REQUEST' | 'INVALID_CREDENTIALS' | 'NOT_ENOUGH_PRIVILEGES' | 'INVALID_SESSION_TOKEN' | 'INTERNAL_SERVER_ERROR';

interface Mapping {
  status: number;
  errorCode: HcxErrorCode;
  /** Fixed seed text; when absent the problem's detail is the message. */
  text?: string;
  fallback: string;
}

/** Core and transport codes → the seed's statuses, codes and texts. */
const MAP: Record<ProblemCode, Mapping> = {
  invalid_input: { status: 400, errorCode: 'BAD_REQUEST', fallback: 'Bad request.' },
  unsupported_auth_type: { status: 400, errorCode: 'BAD_REQUEST', fallback: 'Unsupported auth type' },
  invalid_credentials: { status: 401, errorCode: 'INVALID_CREDENTIALS', text: 'Invalid username or password.', fallback: '' },
  forbidden: { status: 403, errorCode: 'NOT_ENOUGH_PRIVILEGES', text: 'Access Denied', fallback: '' },
  invalid_session: { status: 401, errorCode: 'INVALID_SESSION_TOKEN', fallback: 'Invalid or expired session token.' },
  csrf_mismatch: { status: 403, errorCode: 'NOT_ENOUGH_PRIVILEGES', text: 'Access Denied', fallback: '' },
  not_found: { status: 404, errorCode: 'BAD_REQUEST', fallback: 'Not found.' },
  conflict: { status: 409, errorCode: 'BAD_REQUEST', fallback: 'Conflict.' },
  password_change_required: {
    status: 403, errorCode: 'NOT_ENOUGH_PRIVILEGES',
    text: 'Password change required: change the password (PUT /userAccounts/passwordChange or PUT /portcullis/api/v1/password) before using this API.', fallback: '',
  },
  too_many_sessions: { status: 403, errorCode: 'NOT_ENOUGH_PRIVILEGES', fallback: 'Maximum number of concurrent sessions reached; log out another session first.' },
  identity_unavailable: { status: 500, errorCode: 'INTERNAL_SERVER_ERROR', text: 'Exception while performing auth', fallback: '' },
  internal: { status: 500, errorCode: 'INTERNAL_SERVER_ERROR', fallback: 'Internal server error.' },
  // Fixed texts: an adapter's message may name hosts or ports, which a client has no business seeing.
  busy: { status: 503, errorCode: 'INTERNAL_SERVER_ERROR', text: 'Too many logins at once; retry shortly.', fallback: '' },
  unavailable: { status: 503, errorCode: 'INTERNAL_SERVER_ERROR', text: 'Service temporarily unavailable; retry shortly.', fallback: '' },
  no_route: { status: 404, errorCode: 'BAD_REQUEST', fallback: 'No such API.' },
  method_not_allowed: { status: 405, errorCode: 'BAD_REQUEST', fallback: 'Method not allowed on this API.' },
  uri_too_long: { status: 414, errorCode: 'BAD_REQUEST', fallback: 'Request URL or a path parameter is too long.' },
  payload_too_large: { status: 413, errorCode: 'BAD_REQUEST', fallback: 'Request body is too large.' },
  unsupported_media_type: { status: 415, errorCode: 'BAD_REQUEST', fallback: 'Content-Type must be application/json.' },
  header_too_large: { status: 431, errorCode: 'BAD_REQUEST', fallback: 'Request headers are too large.' },
  timeout: { status: 408, errorCode: 'BAD_REQUEST', fallback: 'Request timed out.' },
};

/** `{success, completed, time, version}`: the head of every HCX body, success or failure, in the seed's key order. */
export function head(success: boolean, now: number) {
  return { success, completed: success, time: now, version: '1.0' };
}

export function hcxRenderer(now: () => number): DialectRenderer {
  return {
    name: 'hcx',
    owns: (path) => path.startsWith('/api/admin/') || path.startsWith('/hybridity/'),
    render(problem: Problem) {
      const m = MAP[problem.code];
      const error = m.text ?? (problem.detail || m.fallback);
      const status = problem.status ?? m.status;
      const retryAfter = retryAfterFor(problem.code);
      let headers: Record<string, string> | undefined;
      if (problem.code === 'invalid_session' || problem.code === 'invalid_credentials') headers = { 'www-authenticate': 'Basic realm="HCX", charset="UTF-8"' };
      else if (retryAfter !== undefined) headers = { 'retry-after': String(retryAfter) };
      return {
        status,
        body: { ...head(false, now()), errorCode: status >= 500 ? 'INTERNAL_SERVER_ERROR' : m.errorCode, error },
        ...(headers && { headers }),
      };
    },
  };
}
