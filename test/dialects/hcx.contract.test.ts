import assert from 'node:assert/strict';
import { runDialectContract, type Answer } from './contract.js';

const HCX_CODES = ['BAD_REQUEST', 'INVALID_CREDENTIALS', 'NOT_ENOUGH_PRIVILEGES', 'INVALID_SESSION_TOKEN', 'INTERNAL_SERVER_ERROR'];

/** The seed's error envelope: `{success:false, completed:false, time, version, errorCode, error}` in that order. */
export function assertHcxError(res: Answer, status: number): void {
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const body = JSON.parse(res.body) as Record<string, unknown>;
  assert.deepEqual(Object.keys(body), ['success', 'completed', 'time', 'version', 'errorCode', 'error'], res.body);
  assert.equal(body.success, false);
  assert.equal(body.completed, false);
  assert.equal(typeof body.time, 'number');
  assert.equal(body.version, '1.0');
  assert.ok(HCX_CODES.includes(body.errorCode as string), `errorCode ${String(body.errorCode)}`);
  if (status >= 500) assert.equal(body.errorCode, 'INTERNAL_SERVER_ERROR');
  assert.equal(typeof body.error, 'string');
  assert.ok((body.error as string).length > 0);
  if (status === 401) assert.match(String(res.headers['www-authenticate']), /^Basic realm=/);
  assert.equal(res.headers['x-hm-authorization'], undefined, 'an error never carries a token');
}

const token = (s: { token: string }) => ({ 'x-hm-authorization': s.token });
const loginBody = (c: { username: string; password: string }) => ({ username: c.username, password: c.password });

runDialectContract({
  label: 'HCX',
  dialect: 'hcx',
  async session(h, c) {
    const res = await h.app.inject({ method: 'POST', url: '/api/admin/v1/sessions', payload: loginBody(c) });
    assert.equal(res.statusCode, 200, res.body);
    return { token: String(res.headers['x-hm-authorization']), extra: {} };
  },
  login: { method: 'POST', url: '/api/admin/v1/sessions', body: loginBody, required: ['username', 'password'], failStatus: 401, okStatus: 200 },
  jsonRoutes: [{ method: 'POST', url: '/hybridity/api/sessions', body: loginBody, required: ['username', 'password'] }],
  check: { method: 'GET', url: '/api/admin/v1/sessions', headers: token },
  emptyJsonBody: [
    { method: 'GET', url: '/api/admin/v1/sessions', headers: token, okStatus: 200 },
    { method: 'DELETE', url: '/api/admin/v1/sessions', headers: token, okStatus: 200 },
  ],
  unknownPaths: ['/api/admin/v1/nothing', '/hybridity/api/nothing'],
  wrongMethod: { method: 'PUT', url: '/api/admin/v1/sessions' },
  assertError: assertHcxError,
});
