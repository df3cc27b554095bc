import { retryAfterFor } from '../../core/errors.js';
import type { DialectRenderer, Problem, ProblemCode } from '../../http/common.js';

/** Paths the gateway answers (nothing else under /portcullis/ is its). */
export const AUTH_PREFIX = '/portcullis/auth/';
export const INTROSPECT_PATH = '/portcullis/api/v1/introspect';

const STATUS: Record<ProblemCode, number> = {
  invalid_input: 400,
  unsupported_auth_type: 400,
  invalid_credentials: 401,
  invalid_session: 401,
  forbidden: 403,
  csrf_mismatch: 403,
  password_change_required: 403,
  too_many_sessions: 403,
  not_found: 404,
  conflict: 409,
  identity_unavailable: 503,
  internal: 500,
  busy: 503,
  unavailable: 503,
  no_route: 404,
  method_not_allowed: 405,
  uri_too_long: 414,
  payload_too_large: 413,
  unsupported_media_type: 415,
  header_too_large: 431,
  timeout: 408,
};

/** Fixed texts where a detail could say too much (which rule, which backend). */
const MESSAGES: Partial<Record<ProblemCode, string>> = {
  invalid_session: 'No live session in this request: log in and send the session token (see WWW-Authenticate).',
  invalid_credentials: 'The credentials were not accepted.',
  forbidden: 'Access denied.',
  csrf_mismatch: 'Access denied.',
  password_change_required: 'The password of this account must be changed before anything else.',
  identity_unavailable: 'The identity source could not answer; retry shortly.',
  internal: 'An internal error occurred.',
  busy: 'Too busy; retry after the Retry-After seconds.',
  unavailable: 'The session store is unreachable or too slow; retry after the Retry-After seconds.',
};

/** The challenge of a 401: Bearer always, Basic when forward-auth accepts it. */
export function challenge(basic: boolean): string {
  return basic ? 'Bearer realm="portcullis", Basic realm="portcullis", charset="UTF-8"' : 'Bearer realm="portcullis"';
}

/**
 * `{"error": code, "error_description": text}`: the OAuth 2.0 error shape (RFC 6749
 * §5.2), which token introspection (RFC 7662) uses and which every forward-auth
 * answer shares. The code is the core's (or an OAuth code for introspection).
 */
export function gatewayRenderer(basic: boolean): DialectRenderer {
  return {
    name: 'gateway',
    owns: (path) => path.startsWith(AUTH_PREFIX) || path === INTROSPECT_PATH || path.startsWith(`${INTROSPECT_PATH}?`) || path.startsWith(`${INTROSPECT_PATH}/`),
    render(problem: Problem) {
      const status = problem.status ?? STATUS[problem.code];
      const description = MESSAGES[problem.code] ?? (problem.detail || problem.code);
      const headers: Record<string, string> = {};
      const retryAfter = retryAfterFor(problem.code);
      if (retryAfter !== undefined) headers['retry-after'] = String(retryAfter);
      if (status === 401) headers['www-authenticate'] = challenge(basic);
      return { status, body: { error: problem.code, error_description: description }, headers };
    },
  };
}
