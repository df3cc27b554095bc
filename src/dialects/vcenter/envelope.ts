import { retryAfterFor } from '../../core/errors.js';
import type { DialectRenderer, Problem, ProblemCode } from '../../http/common.js';

/** The vAPI standard error types Portcullis answers with (`error_type` of `/api`, `type` suffix of `/rest`). */
export type VapiErrorType =
  | 'UNAUTHENTICATED'
  | 'UNAUTHORIZED'
  | 'INVALID_ARGUMENT'
  | 'INVALID_REQUEST'
  | 'NOT_FOUND'
  | 'OPERATION_NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'TIMED_OUT'
  | 'SERVICE_UNAVAILABLE'
  | 'INTERNAL_SERVER_ERROR';

interface Mapping {
  status: number;
  type: VapiErrorType;
  /** Message id: vCenter's own where it has one for the case, else Portcullis's (`com.vmware.portcullis.*`). */
  id: string;
  /** Fixed text; when absent the problem's detail (or the fallback) is the message. */
  text?: string;
  fallback: string;
}

/** vCenter's id and text for every authentication failure: they do not tell a wrong password from an unknown user or session. */
export const AUTH_REQUIRED_ID = 'com.vmware.vapi.endpoint.method.authentication.required';
export const AUTH_REQUIRED_TEXT = 'Authentication required.';
export const CHALLENGE = 'Basic realm="vCenter"';

const own = (name: string) => `com.vmware.portcullis.${name}`;

/** Core and transport codes → vAPI error type, status and message. */
const MAP: Record<ProblemCode, Mapping> = {
  invalid_input: { status: 400, type: 'INVALID_ARGUMENT', id: own('invalid.argument'), fallback: 'The request is not valid.' },
  unsupported_auth_type: { status: 400, type: 'INVALID_ARGUMENT', id: own('invalid.argument'), fallback: 'The authentication type is not supported.' },
  invalid_credentials: { status: 401, type: 'UNAUTHENTICATED', id: AUTH_REQUIRED_ID, text: AUTH_REQUIRED_TEXT, fallback: '' },
  invalid_session: { status: 401, type: 'UNAUTHENTICATED', id: AUTH_REQUIRED_ID, text: AUTH_REQUIRED_TEXT, fallback: '' },
  forbidden: { status: 403, type: 'UNAUTHORIZED', id: own('unauthorized'), text: 'The user is not authorized to use this API.', fallback: '' },
  csrf_mismatch: { status: 403, type: 'UNAUTHORIZED', id: own('unauthorized'), text: 'The user is not authorized to use this API.', fallback: '' },
  password_change_required: {
    status: 403, type: 'UNAUTHORIZED', id: own('password.change.required'),
    text: 'The password must be changed (PUT /portcullis/api/v1/password or PUT /userAccounts/passwordChange) before this session may be used; it may only log out.', fallback: '',
  },
  too_many_sessions: { status: 403, type: 'UNAUTHORIZED', id: own('session.limit'), fallback: 'The maximum number of concurrent sessions for this user has been reached; log out another session first.' },
  not_found: { status: 404, type: 'NOT_FOUND', id: own('not.found'), fallback: 'The requested resource was not found.' },
  conflict: { status: 400, type: 'ALREADY_EXISTS', id: own('already.exists'), fallback: 'The resource already exists.' },
  // Fixed texts: an adapter's message may name hosts or ports, which a client has no business seeing.
  identity_unavailable: { status: 503, type: 'SERVICE_UNAVAILABLE', id: own('identity.unavailable'), text: 'The identity source could not be reached; retry later.', fallback: '' },
  busy: { status: 503, type: 'SERVICE_UNAVAILABLE', id: own('busy'), text: 'Too many logins at once; retry shortly.', fallback: '' },
  unavailable: { status: 503, type: 'SERVICE_UNAVAILABLE', id: own('unavailable'), text: 'The session service is temporarily unavailable; retry shortly.', fallback: '' },
  internal: { status: 500, type: 'INTERNAL_SERVER_ERROR', id: own('internal'), text: 'An internal error occurred.', fallback: '' },
  // vCenter's own id for a path it does not serve.
  no_route: { status: 404, type: 'NOT_FOUND', id: 'com.vmware.vapi.rest.httpNotFound', fallback: 'Not found.' },
  method_not_allowed: { status: 405, type: 'OPERATION_NOT_FOUND', id: own('method.not.allowed'), fallback: 'The method is not allowed on this path.' },
  uri_too_long: { status: 414, type: 'INVALID_ARGUMENT', id: own('uri.too.long'), fallback: 'The request URI is too long.' },
  payload_too_large: { status: 413, type: 'INVALID_REQUEST', id: own('request.too.large'), fallback: 'The request body is too large.' },
  unsupported_media_type: { status: 415, type: 'INVALID_REQUEST', id: own('unsupported.media.type'), fallback: 'The request content type is not supported; use application/json.' },
  header_too_large: { status: 431, type: 'INVALID_REQUEST', id: own('headers.too.large'), fallback: 'The request headers are too large.' },
  timeout: { status: 408, type: 'TIMED_OUT', id: own('request.timeout'), fallback: 'The request was not received in time.' },
};

/** A vAPI LocalizableMessage. */
export function message(id: string, text: string): { id: string; default_message: string; args: string[] } {
  return { id, default_message: text, args: [] };
}

/** Whether a request path is one of the older `/rest` API's (`{"type", "value"}` errors) rather than `/api`'s. */
export function isRestPath(path: string): boolean {
  return path === '/rest' || path.startsWith('/rest/') || path.startsWith('/rest?');
}

/** Paths of this dialect: `/api/session` (and below it) and everything under `/rest`. Not `/api/admin/...` (HCX). */
export function ownsVcenterPath(path: string): boolean {
  return path === '/api/session' || path.startsWith('/api/session?') || path.startsWith('/api/session/') || isRestPath(path);
}

/**
 * The vAPI error envelopes: `/api` answers `{"error_type", "messages": [{id, default_message, args}]}`
 * (with `challenge` on 401), the older `/rest` answers `{"type": "com.vmware.vapi.std.errors.<type>",
 * "value": {"messages": [...]}}`. Which one is chosen from the request's path; a request whose path
 * is unknown (a malformed request head) gets the `/api` shape.
 */
export const vcenterRenderer: DialectRenderer = {
  name: 'vcenter',
  owns: ownsVcenterPath,
  render(problem: Problem, req) {
    const m = MAP[problem.code];
    const status = problem.status ?? m.status;
    const type: VapiErrorType = problem.status !== undefined && problem.status !== m.status ? typeForStatus(problem.status, m.type) : m.type;
    const text = m.text ?? (problem.detail || m.fallback);
    const messages = [message(m.id, text)];
    const url = req && 'url' in req && typeof req.url === 'string' ? req.url : '';
    const retryAfter = retryAfterFor(problem.code);
    let headers: Record<string, string> | undefined;
    if (type === 'UNAUTHENTICATED') headers = { 'www-authenticate': CHALLENGE };
    else if (retryAfter !== undefined) headers = { 'retry-after': String(retryAfter) };
    const body = isRestPath(url)
      ? { type: `com.vmware.vapi.std.errors.${type.toLowerCase()}`, value: { messages } }
      : { error_type: type, messages, ...(type === 'UNAUTHENTICATED' && { challenge: CHALLENGE }) };
    return { status, body, ...(headers && { headers }) };
  },
};

/** Framework errors carry their own status (e.g. 400 for a bad header): the closest vAPI type for it. */
function typeForStatus(status: number, fallback: VapiErrorType): VapiErrorType {
  if (status === 401) return 'UNAUTHENTICATED';
  if (status === 403) return 'UNAUTHORIZED';
  if (status === 404) return 'NOT_FOUND';
  if (status === 405) return 'OPERATION_NOT_FOUND';
  if (status === 408) return 'TIMED_OUT';
  if (status === 503) return 'SERVICE_UNAVAILABLE';
  if (status >= 500) return 'INTERNAL_SERVER_ERROR';
  if (status >= 400) return fallback === 'INVALID_ARGUMENT' ? 'INVALID_ARGUMENT' : 'INVALID_REQUEST';
  return fallback;
}
