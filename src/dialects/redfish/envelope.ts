import { retryAfterFor } from '../../core/errors.js';
import type { DialectRenderer, Problem, ProblemCode } from '../../http/common.js';
import { errorBody, message, type RedfishMessage } from './messages.js';

export const REDFISH_ROOT = '/redfish/v1';
export const ACCOUNTS_URI = `${REDFISH_ROOT}/AccountService/Accounts`;

/** Sent with every Redfish response (DSP0266: OData-Version is required on responses). */
export const ODATA_HEADERS = { 'odata-version': '4.0' } as const;

/** The challenge of every 401: clients may answer with HTTP Basic (RFC 7617). */
export const WWW_AUTHENTICATE = 'Basic realm="Redfish", charset="UTF-8"';

/** A GeneralError with a resolution of our own (the registry asks for one when GeneralError is used). */
export function generalError(resolution: string): RedfishMessage {
  return { ...message('GeneralError'), Resolution: resolution };
}

function contentTypeOf(req: unknown): string {
  const headers = typeof req === 'object' && req !== null && 'headers' in req ? (req as { headers: Record<string, unknown> }).headers : undefined;
  const v = headers?.['content-type'];
  return typeof v === 'string' ? v : '';
}

/** Core and transport failures → status and Base registry messages. */
function messagesFor(problem: Problem, req: unknown): { status: number; messages: RedfishMessage[]; detail?: string | undefined } {
  const code: ProblemCode = problem.code;
  const detail = problem.detail;
  switch (code) {
    case 'invalid_input':
      if (detail?.startsWith('body is not valid JSON')) return { status: 400, messages: [message('MalformedJSON')] };
      return { status: 400, messages: [generalError('Correct the request and resubmit it.')], detail };
    case 'unsupported_auth_type':
      return { status: 400, messages: [generalError('Correct the request and resubmit it.')], detail };
    case 'invalid_credentials':
    case 'invalid_session':
      return { status: 401, messages: [message('NoValidSession')] };
    case 'forbidden':
    case 'csrf_mismatch':
      return { status: 403, messages: [message('InsufficientPrivilege')] };
    case 'password_change_required':
      return { status: 403, messages: [message('PasswordChangeRequired', ACCOUNTS_URI)] };
    case 'too_many_sessions':
      return { status: 403, messages: [message('SessionLimitExceeded')], detail };
    case 'not_found':
      return { status: 404, messages: [message('ResourceNotFound', 'Resource', detail ?? '')] };
    case 'no_route': {
      // The app's detail is "METHOD /path".
      const path = detail?.split(' ')[1] ?? '';
      return { status: 404, messages: [message('ResourceNotFound', 'Resource', path)] };
    }
    case 'method_not_allowed':
      // The app sets Allow from the routes the path has.
      return { status: 405, messages: [message('OperationNotAllowed')] };
    case 'uri_too_long':
      return { status: 414, messages: [generalError('Use a shorter URI: an identifier in the path is longer than the service accepts.')], detail };
    case 'conflict':
      return { status: 409, messages: [generalError('Choose another name and resubmit the request.')], detail };
    case 'payload_too_large':
      return { status: 413, messages: [message('PayloadTooLarge')], detail };
    case 'unsupported_media_type': {
      const sent = contentTypeOf(req);
      return { status: 415, messages: [message('HeaderInvalid', `Content-Type: ${sent}`)], detail: 'Send request bodies as application/json.' };
    }
    case 'header_too_large':
      return { status: 431, messages: [generalError('Send fewer or smaller request headers and resubmit the request.')], detail };
    case 'timeout':
      return { status: 408, messages: [generalError('Send the whole request within the time allowed and resubmit it.')] };
    case 'busy':
    case 'unavailable':
      return { status: 503, messages: [message('ServiceTemporarilyUnavailable', String(retryAfterFor(code) ?? 1))] };
    case 'identity_unavailable':
    case 'internal':
      return { status: 500, messages: [message('InternalError')] };
  }
}

/** The Redfish error envelope for failures found outside the dialect's routes (and the core's errors thrown inside them). */
export const redfishRenderer: DialectRenderer = {
  name: 'redfish',
  owns: (path) => path === '/redfish' || path.startsWith('/redfish/') || path.startsWith('/redfish?'),
  render(problem: Problem, req) {
    const m = messagesFor(problem, req);
    const status = problem.status ?? m.status;
    const headers: Record<string, string> = { ...ODATA_HEADERS };
    if (status === 401) headers['www-authenticate'] = WWW_AUTHENTICATE;
    const retryAfter = retryAfterFor(problem.code);
    if (retryAfter !== undefined) headers['retry-after'] = String(retryAfter);
    // Adapter or core details never reach a client for server-side failures.
    const detail = status >= 500 ? undefined : m.detail;
    return { status, body: errorBody(m.messages, detail), headers };
  },
};
