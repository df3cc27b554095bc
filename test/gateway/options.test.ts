import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { addUser, harness } from '../helpers.js';

/* Gateway options: identity header presets and names, HTTP Basic (off by default; bounded and cached when on). */

const check = (headers: Record<string, string>) => ({ method: 'GET' as const, url: '/portcullis/auth/forward', headers: { 'x-forwarded-host': 'app.example.com', 'x-forwarded-uri': '/x', ...headers } });
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

describe('identity headers', () => {
  it('sends the oauth2-proxy names with that preset', async () => {
    const h = await harness({ overrides: { 'gateway.identityHeaders': 'oauth2-proxy' } });
    try {
      await addUser(h, 'bob', 'Bob-Pass-123', ['Operator', 'Viewer']);
      const r = await h.p.sessions.login({ provider: 'local', username: 'bob', password: 'Bob-Pass-123', requiredRoles: 'any' }, { requestId: 't', clientAddress: '127.0.0.1', dialect: 'hcx' });
      assert.equal(r.kind, 'ok');
      const res = await h.app.inject(check({ 'x-hm-authorization': r.kind === 'ok' ? r.token : '' }));
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['x-auth-request-user'], 'bob');
      assert.equal(res.headers['x-auth-request-groups'], 'Operator,Viewer');
      assert.equal(res.headers['x-auth-request-email'], '');
      assert.equal(res.headers['remote-user'], undefined);
    } finally {
      await h.close();
    }
  });
  it('sends custom names, and only those given', async () => {
    const h = await harness({ overrides: { 'gateway.identityHeaders': { user: 'X-User', groups: 'X-Roles' } } });
    try {
      await addUser(h, 'bob', 'Bob-Pass-123', ['Operator']);
      const r = await h.p.sessions.login({ provider: 'local', username: 'bob', password: 'Bob-Pass-123', requiredRoles: 'any' }, { requestId: 't', clientAddress: '127.0.0.1', dialect: 'hcx' });
      const res = await h.app.inject(check({ authorization: `Bearer ${r.kind === 'ok' ? r.token : ''}` }));
      assert.equal(res.headers['x-user'], 'bob');
      assert.equal(res.headers['x-roles'], 'Operator');
      assert.equal(res.headers['remote-name'], undefined);
    } finally {
      await h.close();
    }
  });
});

describe('HTTP Basic on forward-auth', () => {
  it('is off by default: Basic credentials are no session (401, challenge without Basic)', async () => {
    const h = await harness();
    try {
      await addUser(h, 'bob', 'Bob-Pass-123', ['Operator']);
      const res = await h.app.inject(check({ authorization: basic('bob', 'Bob-Pass-123') }));
      assert.equal(res.statusCode, 401);
      assert.equal(res.headers['www-authenticate'], 'Bearer realm="portcullis"');
    } finally {
      await h.close();
    }
  });

  it('when enabled, checks the password once and reuses the success for cacheSeconds; failures are counted every time', async () => {
    const h = await harness({ overrides: { 'gateway.basic.enabled': true, 'gateway.basic.cacheSeconds': 30 } });
    try {
      await addUser(h, 'bob', 'Bob-Pass-123', ['Operator']);
      let checks = 0;
      const real = h.p.local.authenticate.bind(h.p.local);
      h.p.local.authenticate = (u: string, p: string) => {
        checks++;
        return real(u, p);
      };
      const ok = await h.app.inject(check({ authorization: basic('bob', 'Bob-Pass-123') }));
      assert.equal(ok.statusCode, 200, ok.body);
      assert.equal(ok.headers['remote-user'], 'bob');
      assert.equal(ok.headers['remote-session-id'], '', 'Basic makes no session');
      assert.equal((await h.app.inject(check({ authorization: basic('bob', 'Bob-Pass-123') }))).statusCode, 200);
      assert.equal(checks, 1, 'the second request is answered from the cache');
      for (let i = 0; i < 2; i++) {
        const bad = await h.app.inject(check({ authorization: basic('bob', 'wrong-password') }));
        assert.equal(bad.statusCode, 401);
        assert.match(String(bad.headers['www-authenticate']), /Basic realm="portcullis"/);
      }
      assert.equal(checks, 3, 'a wrong password is never answered from the cache');
      const failures = await h.p.audit.query({ kind: 'login.failure' });
      assert.equal(failures.length, 2, 'and counts against the brute-force limits');
      (h.clock as unknown as { advance(ms: number): void }).advance(30_000);
      assert.equal((await h.app.inject(check({ authorization: basic('bob', 'Bob-Pass-123') }))).statusCode, 200);
      assert.equal(checks, 4, 'after cacheSeconds the password is checked again');
    } finally {
      await h.close();
    }
  });
});
