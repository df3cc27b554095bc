import assert from 'node:assert/strict';
import { runDialectContract, type Answer } from './contract.js';

const MESSAGE_ID = /^Base\.1\.16\.[A-Za-z]+$/;

/** The Redfish error envelope: `{"error":{code, message, @Message.ExtendedInfo:[Message…]}}` with OData-Version. */
export function assertRedfishError(res: Answer, status: number): void {
  assert.match(String(res.headers['content-type']), /^application\/json; charset=utf-8$/);
  assert.equal(res.headers['odata-version'], '4.0', 'OData-Version on every answer');
  const body = JSON.parse(res.body) as { error: Record<string, unknown> };
  assert.deepEqual(Object.keys(body), ['error'], res.body);
  assert.deepEqual(Object.keys(body.error), ['code', 'message', '@Message.ExtendedInfo'], res.body);
  assert.match(String(body.error.code), MESSAGE_ID);
  assert.equal(typeof body.error.message, 'string');
  const infos = body.error['@Message.ExtendedInfo'] as Record<string, unknown>[];
  assert.ok(Array.isArray(infos) && infos.length > 0);
  for (const m of infos) {
    assert.match(String(m.MessageId), MESSAGE_ID);
    assert.equal(typeof m.Message, 'string');
    assert.ok(Array.isArray(m.MessageArgs));
  }
  // One message names the error; several are summed up as GeneralError (DSP0266 "Message object").
  assert.equal(body.error.code, infos.length === 1 ? infos[0]!.MessageId : 'Base.1.16.GeneralError');
  if (status === 401) assert.match(String(res.headers['www-authenticate']), /^Basic realm="Redfish"/);
  if (status === 503) assert.equal(infos[0]!.MessageId, 'Base.1.16.ServiceTemporarilyUnavailable');
  assert.equal(res.headers['x-auth-token'], undefined, 'an error never carries a token');
  assert.equal(res.headers['set-cookie'], undefined, 'Redfish never sets a cookie');
}

const token = (s: { token: string }) => ({ 'x-auth-token': s.token });
const loginBody = (c: { username: string; password: string }) => ({ UserName: c.username, Password: c.password });
const SESSIONS = '/redfish/v1/SessionService/Sessions';

runDialectContract({
  label: 'Redfish',
  dialect: 'redfish',
  async session(h, c) {
    const res = await h.app.inject({ method: 'POST', url: SESSIONS, payload: loginBody(c) });
    assert.equal(res.statusCode, 201, res.body);
    return { token: String(res.headers['x-auth-token']), extra: { location: String(res.headers.location) } };
  },
  login: { method: 'POST', url: SESSIONS, body: loginBody, required: ['UserName', 'Password'], failStatus: 401, okStatus: 201, rejectsUnknownFields: true },
  // POST of Accounts is left out: the suite sends one body twice and compares the answers (the second is a 409).
  jsonRoutes: [
    { method: 'PATCH', url: '/redfish/v1/SessionService', body: () => ({ SessionTimeout: 1440 }), required: [], headers: token, rejectsUnknownFields: true },
  ],
  check: { method: 'GET', url: '/redfish/v1/SessionService', headers: token },
  emptyJsonBody: [
    { method: 'GET', url: '/redfish/v1/SessionService', headers: token, okStatus: 200 },
    { method: 'GET', url: SESSIONS, headers: token, okStatus: 200 },
  ],
  unknownPaths: ['/redfish/v1/Nothing', '/redfish/v1/SessionService/Nothing/Deeper'],
  wrongMethod: { method: 'PUT', url: '/redfish/v1/SessionService' },
  paramRoute: { method: 'GET', url: (p) => `${SESSIONS}/${p}`, headers: token },
  assertError: assertRedfishError,
});
