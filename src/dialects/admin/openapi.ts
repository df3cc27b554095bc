import type { DialectRenderer, ProblemCode } from '../../http/common.js';
import { TRANSPORT_PROBLEMS, distinct, jsonResponse, notUserInputHeader, problemResponses, type DialectDocInfo, type Security } from '../../http/openapi.js';
import { PASSWORD_CHANGE_EXAMPLES, SETTINGS_BODY_EXAMPLES, SETTINGS_EXAMPLE, settingsSchema } from '../../http/schemas.js';

/** The admin API's schemas for its OpenAPI document (docs/admin-api.md). */

const str = { type: 'string' } as const;
const iso = { type: 'string', pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{3})?Z$' } as const;
const obj = (properties: Record<string, unknown>) => ({ type: 'object', required: Object.keys(properties), additionalProperties: false, properties });

export const adminErrorSchema = {
  type: 'object',
  required: ['error'],
  additionalProperties: false,
  properties: {
    error: obj({
      code: { type: 'string', description: 'The core\'s error code, stable for scripts (invalid_session, forbidden, invalid_input, not_found, …).' },
      message: str,
    }),
  },
} as const;

const ok = jsonResponse('Done.', obj({ ok: { type: 'boolean', const: true } }), { ok: true });

const sessionSchema = obj({
  id: str,
  username: str,
  clientAddress: str,
  dialect: { type: 'string', description: 'The dialect the session was made through.' },
  authSource: { type: 'string', description: 'The identity source that checked the password (local, pam, ldap).' },
  mustChangePassword: { type: 'boolean' },
  created: iso,
  lastAccessed: iso,
  expires: iso,
});

const SESSION_EXAMPLE = {
  id: '19lee2n050duf10sew3a6l49gs',
  username: 'alice',
  clientAddress: '10.41.44.187',
  dialect: 'hcx',
  authSource: 'local',
  mustChangePassword: false,
  created: '2026-11-23T09:00:00Z',
  lastAccessed: '2026-11-23T09:05:12Z',
  expires: '2026-11-23T09:29:12Z',
};

const eventSchema = {
  type: 'object',
  required: ['at', 'kind', 'username', 'clientAddress', 'dialect', 'requestId', 'detail', 'time'],
  properties: {
    seq: { type: 'integer' },
    at: { type: 'integer', description: 'Unix time in milliseconds.' },
    kind: { type: 'string', description: 'login.success, login.failure, account.lock, session.revoke, settings.change, …' },
    username: str,
    clientAddress: str,
    dialect: str,
    requestId: str,
    detail: { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean', 'null'] } },
    time: iso,
  },
} as const;

export function adminDocs(renderer: DialectRenderer) {
  const narrow = (bodies: object[]) => ({ properties: { error: { properties: { code: { enum: distinct(bodies.map((b) => (b as { error: { code: string } }).error.code)) } } } } });
  const errors = (codes: ProblemCode[]) => problemResponses(renderer, [...TRANSPORT_PROBLEMS, ...codes], adminErrorSchema, { narrow });
  const token: Security = [{ bearer: [] }, { hcxToken: [] }];
  const any = { security: token, parameters: [notUserInputHeader] };
  const admin: ProblemCode[] = ['invalid_session', 'forbidden', 'password_change_required'];
  const settingsAnswer = jsonResponse('The account settings in force.', obj({ settings: settingsSchema }), { settings: SETTINGS_EXAMPLE });

  return {
    info: {
      title: 'Portcullis — administration API',
      description:
        'Portcullis\'s own administration API under /portcullis/api/v1: sessions, lockouts, password resets, settings and the audit trail. ' +
        'Authenticated with a session token of any dialect (Authorization: Bearer, or x-hm-authorization); no cookies, so no CSRF token. ' +
        'Errors are `{"error": {"code", "message"}}`. Reference: docs/admin-api.md.',
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'A session token from any dialect\'s login.' },
        hcxToken: { type: 'apiKey', in: 'header', name: 'x-hm-authorization', description: 'The same token, as HCX clients send it.' },
      },
      errorSchema: adminErrorSchema,
    } satisfies DialectDocInfo,
    bodyExamples: { password: PASSWORD_CHANGE_EXAMPLES, settings: SETTINGS_BODY_EXAMPLES, reset: [{ password: 'Temporary-Passw0rd', mustChange: true }] },
    logout: { summary: 'Log out the calling session', operationId: 'logout', ...any, response: { 200: ok, ...errors(['invalid_session']) } },
    password: {
      summary: 'Change the caller\'s own password (allowed to a session that must change it)',
      operationId: 'changeOwnPassword',
      ...any,
      response: { 200: ok, ...errors(['invalid_session', 'invalid_credentials', 'busy']) },
    },
    sessions: {
      summary: 'Live sessions, of one user or all (administrators)',
      operationId: 'listSessions',
      ...any,
      response: { 200: jsonResponse('The live sessions.', obj({ sessions: { type: 'array', items: sessionSchema } }), { sessions: [SESSION_EXAMPLE] }), ...errors(admin) },
    },
    revoke: { summary: 'End one session (administrators)', operationId: 'revokeSession', ...any, response: { 200: ok, ...errors([...admin, 'not_found']) } },
    revokeUser: {
      summary: 'Log a user out everywhere (administrators)',
      operationId: 'revokeUserSessions',
      ...any,
      response: { 200: jsonResponse('How many sessions ended.', obj({ ended: { type: 'integer', minimum: 0 } }), { ended: 2 }), ...errors(admin) },
    },
    unlock: {
      summary: 'Lift a lockout (administrators)',
      operationId: 'unlockUser',
      ...any,
      response: { 200: jsonResponse('Whether the account was locked.', obj({ username: str, wasLocked: { type: 'boolean' } }), { username: 'alice', wasLocked: true }), ...errors(admin) },
    },
    reset: {
      summary: 'Reset a user\'s password (administrators); ends the user\'s sessions',
      operationId: 'resetPassword',
      ...any,
      response: { 200: ok, ...errors([...admin, 'not_found', 'busy']) },
    },
    getSettings: { summary: 'The account settings (administrators)', operationId: 'getSettings', ...any, response: { 200: settingsAnswer, ...errors(admin) } },
    putSettings: { summary: 'Change some account settings (administrators)', operationId: 'putSettings', ...any, response: { 200: settingsAnswer, ...errors(admin) } },
    audit: {
      summary: 'Audit events, oldest first (administrators)',
      operationId: 'queryAudit',
      ...any,
      response: {
        200: jsonResponse('The matching events.', obj({ events: { type: 'array', items: eventSchema } }), {
          events: [{ seq: 1, at: 1795424400000, kind: 'login.success', username: 'alice', clientAddress: '10.41.44.187', dialect: 'hcx', requestId: '4636e751-ca87-42d4-a7fc-809b31fbbd82', detail: { source: 'local' }, time: '2026-11-23T09:00:00.000Z' }],
        }),
        ...errors(admin),
      },
    },
  };
}
