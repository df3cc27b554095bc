import assert from 'node:assert/strict';
import { runDialectContract, type Answer, type Credentials } from './contract.js';

const TYPES = ['UNAUTHENTICATED', 'UNAUTHORIZED', 'INVALID_ARGUMENT', 'INVALID_REQUEST', 'NOT_FOUND', 'OPERATION_NOT_FOUND', 'ALREADY_EXISTS', 'TIMED_OUT', 'SERVICE_UNAVAILABLE', 'INTERNAL_SERVER_ERROR'];
const STATUS_OF: Record<string, number[]> = {
  UNAUTHENTICATED: [401],
  UNAUTHORIZED: [403],
  INVALID_ARGUMENT: [400, 414],
  INVALID_REQUEST: [400, 413, 415, 431],
  NOT_FOUND: [404],
  OPERATION_NOT_FOUND: [405],
  ALREADY_EXISTS: [400],
  TIMED_OUT: [408],
  SERVICE_UNAVAILABLE: [503],
  INTERNAL_SERVER_ERROR: [500],
};

function assertMessages(messages: unknown): void {
  assert.ok(Array.isArray(messages) && messages.length === 1, JSON.stringify(messages));
  const m = messages[0] as Record<string, unknown>;
  assert.deepEqual(Object.keys(m), ['id', 'default_message', 'args']);
  assert.match(String(m.id), /^com\.vmware\.[a-z.]+[A-Za-z.]*$/);
  assert.equal(typeof m.default_message, 'string');
  assert.ok((m.default_message as string).length > 0);
  assert.deepEqual(m.args, []);
}

/** A vAPI error in either envelope: `/api`'s `{error_type, messages, challenge?}` or `/rest`'s `{type, value: {messages}}`. */
function assertVcenterError(res: Answer, status: number): void {
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const body = JSON.parse(res.body) as Record<string, any>;
  let type: string;
  if ('error_type' in body) {
    type = body.error_type as string;
    assert.deepEqual(Object.keys(body), type === 'UNAUTHENTICATED' ? ['error_type', 'messages', 'challenge'] : ['error_type', 'messages'], res.body);
    assertMessages(body.messages);
  } else {
    assert.deepEqual(Object.keys(body), ['type', 'value'], res.body);
    assert.match(body.type, /^com\.vmware\.vapi\.std\.errors\.[a-z_]+$/);
    type = (body.type as string).slice('com.vmware.vapi.std.errors.'.length).toUpperCase();
    assert.deepEqual(Object.keys(body.value), ['messages']);
    assertMessages(body.value.messages);
  }
  assert.ok(TYPES.includes(type), `error type ${type}`);
  assert.ok(STATUS_OF[type]!.includes(status), `${type} with status ${status}`);
  if (status === 401) assert.equal(res.headers['www-authenticate'], 'Basic realm="vCenter"');
  assert.equal(res.headers['set-cookie'], undefined, 'an error never sets a cookie');
}

const sid = (s: { token: string }) => ({ 'vmware-api-session-id': s.token });
const basic = (c: Credentials) => `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
let creds: Credentials | undefined;
const withBasic = () => ({ authorization: basic(creds!) });

runDialectContract({
  label: 'vCenter',
  dialect: 'vcenter',
  overrides: { 'vcenter.provider': 'local' },
  async session(h, c) {
    creds = c;
    const res = await h.app.inject({ method: 'POST', url: '/api/session', headers: { authorization: basic(c) } });
    assert.equal(res.statusCode, 201, res.body);
    return { token: JSON.parse(res.body) as string, extra: {} };
  },
  // Logins take HTTP Basic and no input: the JSON checks apply to the (empty) body beside the credentials.
  jsonRoutes: [
    { method: 'POST', url: '/api/session', body: () => ({}), required: [], headers: withBasic },
    { method: 'POST', url: '/rest/com/vmware/cis/session', body: () => ({}), required: [], headers: withBasic },
  ],
  check: { method: 'GET', url: '/api/session', headers: sid },
  emptyJsonBody: [
    { method: 'GET', url: '/api/session', headers: sid, okStatus: 200 },
    { method: 'POST', url: '/rest/com/vmware/cis/session?~action=get', headers: sid, okStatus: 200 },
    { method: 'GET', url: '/rest/com/vmware/cis/session', headers: sid, okStatus: 200 },
    { method: 'DELETE', url: '/api/session', headers: sid, okStatus: 204 },
    { method: 'DELETE', url: '/rest/com/vmware/cis/session', headers: sid, okStatus: 200 },
  ],
  unknownPaths: ['/api/session/nothing', '/rest/com/vmware/cis/nothing'],
  wrongMethod: { method: 'PUT', url: '/api/session' },
  assertError: assertVcenterError,
});
