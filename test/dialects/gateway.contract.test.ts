import assert from 'node:assert/strict';
import { runDialectContract, type Answer, type SessionHandle } from './contract.js';

/** `{"error": code, "error_description": text}` (RFC 6749 §5.2), a 401 with its challenge. */
export function assertGatewayError(res: Answer, status: number): void {
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const body = JSON.parse(res.body) as { error: string; error_description: string };
  assert.deepEqual(Object.keys(body), ['error', 'error_description'], res.body);
  assert.match(body.error, /^[a-z_]+$/);
  assert.ok(body.error_description.length > 0);
  if (status === 401) assert.match(String(res.headers['www-authenticate']), /^Bearer realm="portcullis"/);
}

const bearer = (s: SessionHandle) => ({ authorization: `Bearer ${s.token}` });

runDialectContract({
  label: 'gateway (forward-auth)',
  dialect: 'gateway',
  async session(h, c) {
    // The gateway has no login of its own: any dialect's session passes it.
    const r = await h.p.sessions.login({ provider: 'local', username: c.username, password: c.password, requiredRoles: 'any' }, { requestId: 'contract', clientAddress: '127.0.0.1', dialect: 'hcx' });
    assert.equal(r.kind, 'ok');
    return { token: r.kind === 'ok' ? r.token : '', extra: {} };
  },
  // Envoy's convention: the original request is this one (method, Host, the path after the prefix).
  check: { method: 'GET', url: '/portcullis/auth/ext-authz/inventory', headers: bearer },
  emptyJsonBody: [
    { method: 'GET', url: '/portcullis/auth/ext-authz/inventory', headers: bearer, okStatus: 200 },
    { method: 'DELETE', url: '/portcullis/auth/ext-authz/jobs/1', headers: bearer, okStatus: 200 },
  ],
  unknownPaths: ['/portcullis/auth/nothing', '/portcullis/auth/v2/request'],
  wrongMethod: { method: 'PUT', url: '/portcullis/api/v1/introspect' },
  assertError: assertGatewayError,
});
