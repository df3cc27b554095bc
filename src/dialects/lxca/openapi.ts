import type { ProblemCode } from '../../http/common.js';
import { TRANSPORT_PROBLEMS, distinct, jsonResponse, notUserInputHeader, problemResponses, type DialectDocInfo, type Security } from '../../http/openapi.js';
import { PASSWORD_CHANGE_EXAMPLES, SETTINGS_BODY_EXAMPLES, SETTINGS_EXAMPLE, settingsSchema } from '../../http/schemas.js';
import { SUCCESS_BODY, lxcaRenderer } from './envelope.js';

/** The XClarity dialect's schemas for its OpenAPI document (docs/xclarity.md); the seed's examples verbatim (seed 004). */

const str = { type: 'string' } as const;

const messageSchema = {
  type: 'object',
  required: ['explanation', 'id', 'recovery', 'text'],
  additionalProperties: false,
  properties: {
    explanation: str,
    id: { type: 'string', pattern: '^FQXHM[A-Z]{2}[0-9]{4}[A-Z]$', description: 'The message id (docs/xclarity.md lists them).' },
    recovery: { type: 'object', required: ['text', 'URL'], additionalProperties: false, properties: { text: str, URL: str } },
    text: str,
  },
} as const;

const messages = { type: 'array', minItems: 1, items: messageSchema } as const;

export const lxcaFailureSchema = {
  type: 'object',
  required: ['result', 'messages'],
  additionalProperties: false,
  properties: { result: { type: 'string', const: 'failure' }, messages },
} as const;

const success = { type: 'string', const: 'success' } as const;

const successSchema = {
  type: 'object',
  required: ['result', 'messages'],
  additionalProperties: false,
  properties: { result: success, messages },
} as const;

const answer = (response: object) => ({
  type: 'object',
  required: ['response', 'result', 'messages'],
  additionalProperties: false,
  properties: { response, result: success, messages },
});

const secondsText = { type: 'string', pattern: '^[0-9]+$' } as const;
const isoText = { type: 'string', pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$' } as const;

const sessionSchema = {
  type: 'object',
  required: ['Address', 'authenticationServer', 'created', 'csrf', 'id', 'idleFor', 'inactivityTimeout', 'lastAccessed', 'UserId'],
  additionalProperties: false,
  properties: {
    Address: { type: 'string', description: 'The client\'s address.' },
    authenticationServer: { type: 'string', description: '127.0.0.1 for local and PAM logins, the directory\'s host for LDAP.' },
    created: isoText,
    csrf: { type: 'string', description: 'The CSRF token: send it as X-Csrf-Token on requests that change state.' },
    id: { type: 'string', description: 'The session id (not a credential).' },
    idleFor: { ...secondsText, description: 'Seconds since the last activity.' },
    inactivityTimeout: { ...secondsText, description: 'Seconds of inactivity after which the session ends.' },
    lastAccessed: isoText,
    UserId: str,
  },
} as const;

const listEntrySchema = {
  type: 'object',
  required: ['Address', 'authenticationServer', 'created', 'id', 'idleFor', 'isOwnSession', 'lastAccessed', 'UserId'],
  additionalProperties: false,
  properties: {
    Address: str,
    authenticationServer: str,
    created: isoText,
    id: str,
    idleFor: secondsText,
    isOwnSession: { type: 'boolean' },
    lastAccessed: isoText,
    UserId: str,
  },
} as const;

/** The seed's 200 example, verbatim. */
export const SEED_LOGIN_EXAMPLE = {
  response: {
    pwChangeRequired: false,
    session: {
      Address: '10.41.44.187',
      authenticationServer: '127.0.0.1',
      created: '2019-01-25T15:56:44Z',
      csrf: 'jbrnbSKznHM4ppOUMTDm-A5JcNNf46AXVNvX98lsRIvGc3Ryav3uTJUmTSP7-gPYacBtIrsEwjEs1IhSxU7_djeE3r_6--PKoa6_5Ois-m7LeMyzAepQaWz6U9W339wM5crBfEdfbecZkJid1cNi6zggAW5O5A0dKKmdlN1FThrbEh0BjfJvcloz0-YrLQxpN0yNbtNef7t-rxSqRpzIFz63Q40it1SjDg0Ldncy2Wxo6bhfC6xBRZBDzgjBgvD7z7sEjgOpvGWgXRYt6gGSlaqpYnHveb90yGfMW3y4Yp8WUp1OmSH8o3DA3qDfJBsYfQ17cJFHVPEgyQrONYFdZA',
      id: '19lee2n050duf10sew3a6l49gs',
      idleFor: '0',
      inactivityTimeout: '1440',
      lastAccessed: '2019-01-25T15:56:44Z',
      UserId: 'USERID',
    },
  },
  result: 'success',
  messages: SUCCESS_BODY.messages,
};

const LIST_EXAMPLE = {
  response: [
    {
      Address: '10.41.44.187',
      authenticationServer: '127.0.0.1',
      created: '2019-01-25T15:56:44Z',
      id: '19lee2n050duf10sew3a6l49gs',
      idleFor: '12',
      isOwnSession: true,
      lastAccessed: '2019-01-25T15:57:10Z',
      UserId: 'USERID',
    },
  ],
  result: 'success',
  messages: SUCCESS_BODY.messages,
};

/** The XClarity routes' documentation, by route. */
export function lxcaDocs(sessionCookie: string, failedLoginStatus: number) {
  const narrow = (bodies: object[]) => ({
    properties: { messages: { items: { properties: { id: { enum: distinct(bodies.map((b) => (b as { messages: { id: string }[] }).messages[0]!.id)) } } } } },
  });
  const errors = (codes: ProblemCode[], status?: Partial<Record<ProblemCode, number>>) =>
    problemResponses(lxcaRenderer, [...TRANSPORT_PROBLEMS, ...codes], lxcaFailureSchema, { narrow, ...(status && { status }) });
  const read: Security = [{ session: [] }];
  const write: Security = [{ session: [], csrf: [] }];
  const done = jsonResponse('The request completed.', successSchema, SUCCESS_BODY);
  const settingsAnswer = jsonResponse('The account settings in force.', answer(settingsSchema), { response: SETTINGS_EXAMPLE, result: 'success', messages: SUCCESS_BODY.messages });
  const asked = ['invalid_session', 'forbidden', 'password_change_required'] as ProblemCode[];

  return {
    info: {
      title: 'Portcullis — Lenovo XClarity Administrator sessions',
      description:
        'The XClarity Administrator session API (seed 004): `POST /sessions` logs in and sets the session cookie and the `csrf` cookie; ' +
        'requests that change state send the csrf value as `X-Csrf-Token`. `X-NOT-USER-INPUT: checkSession` polls without renewing the session. ' +
        'Failures are `{result: "failure", messages: [...]}` with Portcullis\'s FQXHM message ids. Reference: docs/xclarity.md.',
      securitySchemes: {
        session: { type: 'apiKey', in: 'cookie', name: sessionCookie, description: 'The session cookie a login sets (an HCX x-hm-authorization token works as its value).' },
        csrf: { type: 'apiKey', in: 'header', name: 'X-Csrf-Token', description: 'The session\'s csrf cookie value, on requests that change state.' },
      },
      errorSchema: lxcaFailureSchema,
    } satisfies DialectDocInfo,
    bodyExamples: { password: PASSWORD_CHANGE_EXAMPLES, settings: SETTINGS_BODY_EXAMPLES, login: [{ password: 'passw0rd', UserId: 'test' }] },
    login: {
      summary: 'Log in (seed 004)',
      operationId: 'createSession',
      security: [],
      response: {
        200: jsonResponse('Logged in: the session, with its csrf token.', answer({ type: 'object', required: ['pwChangeRequired', 'session'], additionalProperties: false, properties: { pwChangeRequired: { type: 'boolean' }, session: sessionSchema } }), SEED_LOGIN_EXAMPLE, {
          'Set-Cookie': { description: `The session cookie (${sessionCookie}; HttpOnly, Secure, SameSite=Strict) and the csrf cookie.`, required: true, schema: str },
        }),
        ...errors(['invalid_credentials', 'forbidden', 'too_many_sessions', 'identity_unavailable', 'busy'], { invalid_credentials: failedLoginStatus }),
      },
    },
    list: {
      summary: 'List sessions (administrators: all; others: their own user\'s)',
      operationId: 'listSessions',
      security: read,
      parameters: [notUserInputHeader],
      response: {
        200: jsonResponse('The live sessions.', answer({ type: 'array', items: listEntrySchema }), LIST_EXAMPLE, {
          'Set-Cookie': { description: 'The csrf cookie, when the session was made through another dialect and has none yet.', required: false, schema: str },
        }),
        ...errors(asked),
      },
    },
    logout: {
      summary: 'Log out the caller\'s own session',
      operationId: 'deleteOwnSession',
      security: write,
      parameters: [notUserInputHeader],
      response: { 200: { ...done, headers: { 'Set-Cookie': { description: 'Both cookies, expired.', required: true, schema: str } } }, ...errors(['invalid_session', 'forbidden', 'csrf_mismatch']) },
    },
    revoke: {
      summary: 'End a session (the own user\'s, or any for an administrator)',
      operationId: 'deleteSession',
      security: write,
      parameters: [notUserInputHeader],
      response: { 200: done, ...errors([...asked, 'csrf_mismatch', 'not_found']) },
    },
    passwordChange: {
      summary: 'Change the caller\'s own password (allowed to a session that must change it)',
      operationId: 'changePassword',
      security: write,
      parameters: [notUserInputHeader],
      response: { 200: done, ...errors(['invalid_session', 'forbidden', 'csrf_mismatch', 'invalid_credentials', 'busy']) },
    },
    getSettings: {
      summary: 'The account policy (administrators)',
      operationId: 'getUserAccountSettings',
      security: read,
      parameters: [notUserInputHeader],
      response: { 200: settingsAnswer, ...errors(asked) },
    },
    putSettings: {
      summary: 'Change some account settings (administrators); nothing changes when one is refused',
      operationId: 'putUserAccountSettings',
      security: write,
      parameters: [notUserInputHeader],
      response: { 200: settingsAnswer, ...errors([...asked, 'csrf_mismatch']) },
    },
  };
}
