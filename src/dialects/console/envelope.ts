import { retryAfterFor } from '../../core/errors.js';
import type { DialectRenderer, Problem, ProblemCode } from '../../http/common.js';

/** Paths the browser side answers: the login page and the console. */
export const LOGIN_PATH = '/portcullis/login';
export const CONSOLE_PATH = '/console/';

const STATUS: Record<ProblemCode, number> = {
  invalid_input: 400,
  unsupported_auth_type: 400,
  invalid_credentials: 401,
  invalid_session: 401,
  forbidden: 403,
  csrf_mismatch: 403,
  password_change_required: 403,
  not_found: 404,
  no_route: 404,
  method_not_allowed: 405,
  uri_too_long: 414,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  header_too_large: 431,
  too_many_sessions: 429,
  timeout: 408,
  identity_unavailable: 503,
  busy: 503,
  unavailable: 503,
  internal: 500,
};

/** What a person reads for each failure (never which of user, password or code was wrong). */
export const MESSAGES: Record<ProblemCode, string> = {
  invalid_input: 'The request is not valid.',
  unsupported_auth_type: 'This sign-in method is not supported.',
  invalid_credentials: 'The user name, password or code is not valid.',
  invalid_session: 'Your session has ended. Sign in again.',
  forbidden: 'You are not allowed to do this.',
  csrf_mismatch: 'The form has expired or did not come from this page. Reload the page and try again.',
  password_change_required: 'You must change your password first.',
  not_found: 'The page or item was not found.',
  no_route: 'There is no such page.',
  method_not_allowed: 'This page does not answer that method.',
  uri_too_long: 'The address is too long.',
  conflict: 'That already exists.',
  payload_too_large: 'The form is too large.',
  unsupported_media_type: 'The form was not sent as a web form.',
  header_too_large: 'The request headers are too large (too many cookies?).',
  too_many_sessions: 'You already have the maximum number of sessions. End one (My account → Sessions) or wait for one to expire.',
  timeout: 'The request took too long to arrive.',
  identity_unavailable: 'The account directory could not be reached. Try again later.',
  busy: 'The service is busy. Try again in a moment.',
  unavailable: 'The service cannot reach its database. Try again in a moment.',
  internal: 'Something went wrong on the server.',
};

export function statusOf(code: ProblemCode, override?: number): number {
  return override ?? STATUS[code] ?? 500;
}

/**
 * The console's envelope for the shared error paths (unknown route, malformed
 * request head, framework errors): a small JSON body. The console's own pages
 * render their failures as HTML pages with the same status (see views.tsx).
 */
export const consoleRenderer: DialectRenderer = {
  name: 'console',
  owns: (path) => path.startsWith('/console') || path === LOGIN_PATH || path.startsWith(`${LOGIN_PATH}/`) || path.startsWith(`${LOGIN_PATH}?`),
  render(problem: Problem) {
    const status = statusOf(problem.code, problem.status);
    const retry = retryAfterFor(problem.code);
    const detail = problem.code === 'invalid_input' || problem.code === 'no_route' || problem.code === 'method_not_allowed' ? problem.detail : undefined;
    return {
      status,
      body: { error: { code: problem.code, message: MESSAGES[problem.code] ?? MESSAGES.internal, ...(detail && { detail }) } },
      ...(retry !== undefined && { headers: { 'retry-after': String(retry) } }),
    };
  },
};
