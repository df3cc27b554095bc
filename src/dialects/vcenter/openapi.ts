import type { ProblemCode } from '../../http/common.js';
import { TRANSPORT_PROBLEMS, distinct, jsonResponse, notUserInputHeader, problemResponses, type DialectDocInfo, type Security } from '../../http/openapi.js';
import { vcenterRenderer } from './envelope.js';

/** The vCenter dialect's schemas for its OpenAPI document (docs/vcenter.md). */

const str = { type: 'string' } as const;
const vapiMessage = {
  type: 'object',
  required: ['id', 'default_message', 'args'],
  additionalProperties: false,
  properties: { id: str, default_message: str, args: { type: 'array', items: str } },
} as const;
const messages = { type: 'array', minItems: 1, items: vapiMessage } as const;

/** The Automation API's error: `{error_type, messages, challenge?}`. */
export const apiErrorSchema = {
  type: 'object',
  required: ['error_type', 'messages'],
  additionalProperties: false,
  properties: { error_type: str, messages, challenge: str },
} as const;

/** The older REST API's error: `{type: "com.vmware.vapi.std.errors.<kind>", value: {messages}}`. */
export const restErrorSchema = {
  type: 'object',
  required: ['type', 'value'],
  additionalProperties: false,
  properties: {
    type: { type: 'string', pattern: '^com\\.vmware\\.vapi\\.std\\.errors\\.[a-z_]+$' },
    value: { type: 'object', required: ['messages'], additionalProperties: false, properties: { messages } },
  },
} as const;

const iso = { type: 'string', pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$' } as const;
const infoSchema = {
  type: 'object',
  required: ['user', 'created_time', 'last_accessed_time'],
  additionalProperties: false,
  properties: { user: { type: 'string', description: 'The user, with its SSO domain (alice@vsphere.local) where one is configured.' }, created_time: iso, last_accessed_time: iso },
} as const;
const INFO = { user: 'alice@vsphere.local', created_time: '2026-11-23T09:00:00.000Z', last_accessed_time: '2026-11-23T09:05:12.000Z' };
const TOKEN = 'b5Qv3xJ0mVq6S2cO2f3y2wq1pZkqQy8f8H3nq3Lk0aA';
const tokenSchema = { type: 'string', pattern: '^[A-Za-z0-9_-]{43}$', description: 'The session id: send it as vmware-api-session-id.' } as const;

export function vcenterDocs(restPath: string) {
  const narrow = (bodies: object[]) => ({
    anyOf: distinct(bodies.map((b) => ('error_type' in b ? (b as { error_type: string }).error_type : (b as { type: string }).type))).map((t) =>
      t.startsWith('com.') ? { properties: { type: { const: t } } } : { properties: { error_type: { const: t } } },
    ),
  });
  const apiErrors = (codes: ProblemCode[]) => problemResponses(vcenterRenderer, [...TRANSPORT_PROBLEMS, ...codes], apiErrorSchema, { narrow });
  const restErrors = (codes: ProblemCode[]) => problemResponses(vcenterRenderer, [...TRANSPORT_PROBLEMS, ...codes], restErrorSchema, { narrow, req: { id: 'example', url: restPath } });
  const create: ProblemCode[] = ['invalid_credentials', 'forbidden', 'too_many_sessions', 'identity_unavailable', 'busy'];
  const use: ProblemCode[] = ['invalid_session', 'forbidden', 'password_change_required'];
  const basic: Security = [{ basic: [] }];
  const session: Security = [{ sessionId: [] }];
  return {
    info: {
      title: 'Portcullis — VMware vCenter sessions',
      description:
        'The vSphere Automation API session (`/api/session`: POST with HTTP Basic → the session id as a JSON string, 201) and the older REST API ' +
        '(`/rest/com/vmware/cis/session`: values wrapped in `{"value": ...}`). Later calls send the id as `vmware-api-session-id`; it is valid in every dialect. ' +
        'Errors are vAPI errors (`error_type` and `messages`, or `type` and `value.messages` on /rest). Reference: docs/vcenter.md.',
      securitySchemes: {
        basic: { type: 'http', scheme: 'basic', description: 'User name (alice, alice@vsphere.local, VSPHERE\\alice) and password; only to create a session.' },
        sessionId: { type: 'apiKey', in: 'header', name: 'vmware-api-session-id', description: 'The session id a create returned.' },
      },
      errorSchema: { anyOf: [apiErrorSchema, restErrorSchema] },
    } satisfies DialectDocInfo,
    apiCreate: {
      summary: 'Create a session (HTTP Basic); no body, an empty one or {}',
      operationId: 'createSession',
      security: basic,
      response: { 201: jsonResponse('The session id, as a JSON string.', tokenSchema, TOKEN), ...apiErrors(create) },
    },
    apiGet: {
      summary: 'Describe the caller\'s session',
      operationId: 'getSession',
      security: session,
      parameters: [notUserInputHeader],
      response: { 200: jsonResponse('The session.', infoSchema, INFO), ...apiErrors(use) },
    },
    apiDelete: {
      summary: 'Log out',
      operationId: 'deleteSession',
      security: session,
      response: { 204: { description: 'Logged out; no body.' }, ...apiErrors(['invalid_session', 'forbidden']) },
    },
    restPost: {
      summary: 'Create a session (HTTP Basic), or with ?~action=get describe the caller\'s',
      operationId: 'restCreateOrGetSession',
      security: [...basic, ...session] as Security,
      parameters: [notUserInputHeader],
      response: {
        200: jsonResponse(
          'Created: `{"value": <session id>}`; with ~action=get: `{"value": <session>}`.',
          { type: 'object', required: ['value'], additionalProperties: false, properties: { value: { oneOf: [tokenSchema, infoSchema] } } },
          { value: TOKEN },
        ),
        ...restErrors([...create, ...use, 'no_route']),
      },
    },
    restGet: {
      summary: 'Describe the caller\'s session',
      operationId: 'restGetSession',
      security: session,
      parameters: [notUserInputHeader],
      response: { 200: jsonResponse('The session.', { type: 'object', required: ['value'], additionalProperties: false, properties: { value: infoSchema } }, { value: INFO }), ...restErrors(use) },
    },
    restDelete: {
      summary: 'Log out',
      operationId: 'restDeleteSession',
      security: session,
      response: { 200: { description: 'Logged out; no body.' }, ...restErrors(['invalid_session', 'forbidden']) },
    },
  };
}
