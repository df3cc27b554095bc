import { retryAfterFor } from '../../core/errors.js';
import type { DialectRenderer, Problem, ProblemCode } from '../../http/common.js';

export interface LxcaMessage {
  explanation: string;
  id: string;
  recovery: { text: string; URL: string };
  text: string;
}

/** The seed's message for a request that completed. */
export const SUCCESS_MESSAGE: LxcaMessage = {
  explanation: '',
  id: 'FQXHMSE0001I',
  recovery: { text: 'Information only; no action is required.', URL: '' },
  text: 'The request completed successfully.',
};

export const SUCCESS_BODY = { result: 'success', messages: [SUCCESS_MESSAGE] } as const;

interface Entry {
  status: number;
  id: string;
  text: string;
  explanation: string;
  recovery: string;
  /** The problem's detail is appended to the text (for messages about the request's own content). */
  withDetail?: boolean;
}

/**
 * Portcullis's own message ids for failures XClarity does not document, in its
 * FQXHM shape (component SE, severity letter J for errors). Listed in docs/xclarity.md.
 */
export const LXCA_MESSAGES: Record<ProblemCode, Entry> = {
  invalid_credentials: {
    status: 401, id: 'FQXHMSE0101J', text: 'The user ID or password is not valid.',
    explanation: 'The credentials were not accepted.',
    recovery: 'Verify the user ID and password and try again. If the problem persists, contact your administrator.',
  },
  invalid_input: {
    status: 400, id: 'FQXHMSE0102J', text: 'The request is not valid.', withDetail: true,
    explanation: 'A request attribute is missing, has the wrong type, or is not supported.',
    recovery: 'Correct the request and try again.',
  },
  unsupported_auth_type: {
    status: 400, id: 'FQXHMSE0102J', text: 'The request is not valid.', withDetail: true,
    explanation: 'The requested authentication type is not supported.',
    recovery: 'Correct the request and try again.',
  },
  invalid_session: {
    status: 401, id: 'FQXHMSE0103J', text: 'The session is not valid or has expired.',
    explanation: 'The request did not carry the cookie of a live session.',
    recovery: 'Log in again to create a new session.',
  },
  csrf_mismatch: {
    status: 403, id: 'FQXHMSE0104J', text: 'The request did not include a valid CSRF token.',
    explanation: 'Requests that change state must send the session\'s csrf token in the X-Csrf-Token header.',
    recovery: 'Send the value of the csrf cookie in the X-Csrf-Token request header.',
  },
  not_found: {
    status: 404, id: 'FQXHMSE0105J', text: 'The requested resource was not found.', withDetail: true,
    explanation: 'The resource does not exist or no longer exists.',
    recovery: 'Verify the identifier and try again.',
  },
  forbidden: {
    status: 403, id: 'FQXHMSE0106J', text: 'The user is not authorized to perform this operation.',
    explanation: 'The user has no role that permits this operation.',
    recovery: 'Log in with a user that has the required role, or ask an administrator to grant it.',
  },
  identity_unavailable: {
    status: 500, id: 'FQXHMSE0107J', text: 'The authentication server could not be reached.',
    explanation: 'The identity source that checks this user did not answer in time or is not configured.',
    recovery: 'Try again later. If the problem persists, contact your administrator.',
  },
  internal: {
    status: 500, id: 'FQXHMSE0108J', text: 'An internal error occurred.',
    explanation: 'The server could not complete the request.',
    recovery: 'Try again later. If the problem persists, collect the service log and contact support.',
  },
  payload_too_large: {
    status: 413, id: 'FQXHMSE0109J', text: 'The request body is too large.', withDetail: true,
    explanation: 'The server limits the size of request bodies.',
    recovery: 'Send a smaller request.',
  },
  unsupported_media_type: {
    status: 415, id: 'FQXHMSE0110J', text: 'The request content type is not supported.', withDetail: true,
    explanation: 'Request bodies must be JSON.',
    recovery: 'Send the body as application/json.',
  },
  header_too_large: {
    status: 431, id: 'FQXHMSE0111J', text: 'The request headers are too large.',
    explanation: 'The server limits the size of request headers.',
    recovery: 'Send fewer or smaller headers (cookies in particular).',
  },
  no_route: {
    status: 404, id: 'FQXHMSE0112J', text: 'The requested URL or method is not supported.', withDetail: true,
    explanation: 'No API exists at that URL for that method.',
    recovery: 'Check the URL and method against the API reference.',
  },
  method_not_allowed: {
    status: 405, id: 'FQXHMSE0119J', text: 'The method is not supported for this URL.', withDetail: true,
    explanation: 'The URL exists, but not for this HTTP method; the Allow header lists the methods it supports.',
    recovery: 'Use one of the methods in the Allow header.',
  },
  uri_too_long: {
    status: 414, id: 'FQXHMSE0120J', text: 'The request URL is too long.',
    explanation: 'The URL, or an identifier in its path, is longer than the server accepts.',
    recovery: 'Check the identifier in the URL and try again.',
  },
  conflict: {
    status: 409, id: 'FQXHMSE0113J', text: 'The resource already exists.', withDetail: true,
    explanation: 'A resource with that name already exists.',
    recovery: 'Choose another name.',
  },
  password_change_required: {
    status: 403, id: 'FQXHMSE0115J', text: 'The password must be changed before any other operation.',
    explanation: 'The password of this account was reset, has expired, or was never changed since the account was created.',
    recovery: 'Change the password with PUT /userAccounts/passwordChange, then continue. Logging out is also allowed.',
  },
  too_many_sessions: {
    status: 403, id: 'FQXHMSE0116J', text: 'The maximum number of concurrent sessions for this user has been reached.', withDetail: true,
    explanation: 'The user already has MaxConcurrentSessions live sessions; a new login is refused rather than ending one of them.',
    recovery: 'Log out of another session (or wait for it to time out), or ask an administrator to end one, then log in again.',
  },
  busy: {
    status: 503, id: 'FQXHMSE0117J', text: 'The server is busy checking other logins.',
    explanation: 'Logins are arriving faster than the server can check passwords, so this one was not attempted. It does not count as a failed login.',
    recovery: 'Wait for the number of seconds in the Retry-After header and try again.',
  },
  unavailable: {
    status: 503, id: 'FQXHMSE0118J', text: 'The session service is temporarily unavailable.',
    explanation: 'A database the server depends on for accounts or sessions could not be reached or did not answer in time.',
    recovery: 'Wait for the number of seconds in the Retry-After header and try again. If the problem persists, contact your administrator.',
  },
  timeout: {
    status: 408, id: 'FQXHMSE0114J', text: 'The request was not received in time.',
    explanation: 'The client did not send the whole request within the time allowed.',
    recovery: 'Try again.',
  },
};

export function lxcaMessage(problem: Problem): LxcaMessage {
  const e = LXCA_MESSAGES[problem.code];
  return {
    explanation: e.explanation,
    id: e.id,
    recovery: { text: e.recovery, URL: '' },
    text: e.withDetail && problem.detail ? `${e.text} ${problem.detail}` : e.text,
  };
}

export const lxcaRenderer: DialectRenderer = {
  name: 'lxca',
  owns: () => true,
  render(problem: Problem) {
    const status = problem.status ?? LXCA_MESSAGES[problem.code].status;
    const retryAfter = retryAfterFor(problem.code);
    return {
      status,
      body: { result: 'failure', messages: [lxcaMessage(problem)] },
      ...(retryAfter !== undefined && { headers: { 'retry-after': String(retryAfter) } }),
    };
  },
};
