import assert from 'node:assert/strict';
import { runDialectContract, type Answer, type SessionHandle } from './contract.js';

/** `{"error":{"code","message"}}` with the core's code. */
export function assertAdminError(res: Answer, _status: number): void {
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const body = JSON.parse(res.body) as { error: { code: string; message: string } };
  assert.deepEqual(Object.keys(body), ['error'], res.body);
  assert.deepEqual(Object.keys(body.error), ['code', 'message']);
  assert.match(body.error.code, /^[a-z_]+$/);
  assert.ok(body.error.message.length > 0);
}

const bearer = (s: SessionHandle) => ({ authorization: `Bearer ${s.token}` });

runDialectContract({
  label: 'admin API',
  dialect: 'admin',
  async session(h, c) {
    // The admin API has no login of its own: any dialect's session is its bearer token.
    const r = await h.p.sessions.login({ provider: 'local', username: c.username, password: c.password, requiredRoles: 'any' }, { requestId: 'contract', clientAddress: '127.0.0.1', dialect: 'admin' });
    assert.equal(r.kind, 'ok');
    return { token: r.kind === 'ok' ? r.token : '', extra: {} };
  },
  jsonRoutes: [
    { method: 'PUT', url: '/portcullis/api/v1/settings', body: () => ({ LockoutTime: 60 }), required: ['LockoutTime'], headers: bearer },
    { method: 'PUT', url: '/portcullis/api/v1/users/nobody-here/password', body: () => ({ password: 'Some-Good-Pass-12' }), required: ['password'], headers: bearer },
  ],
  check: { method: 'GET', url: '/portcullis/api/v1/sessions', headers: bearer },
  emptyJsonBody: [
    { method: 'GET', url: '/portcullis/api/v1/sessions', headers: bearer, okStatus: 200 },
    { method: 'DELETE', url: '/portcullis/api/v1/session', headers: bearer, okStatus: 200 },
  ],
  unknownPaths: ['/portcullis/api/v1/nothing', '/portcullis/api/v2/sessions'],
  wrongMethod: { method: 'PUT', url: '/portcullis/api/v1/sessions' },
  paramRoute: { method: 'DELETE', url: (id) => `/portcullis/api/v1/sessions/${id}`, headers: bearer },
  assertError: assertAdminError,
});
