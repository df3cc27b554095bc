import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { CoreError } from '../../src/core/errors.js';
import { addUser, harness, ADMIN_ROLES, type Harness } from '../helpers.js';

/*
 * "Not now" failures in every dialect: `busy` (login admission refused) and
 * `unavailable` (a store is down) are 503 with Retry-After, in the dialect's own
 * envelope, with a fixed text (an adapter's message never reaches the client).
 */

const ADMIN = { username: 'retry-admin', password: 'Retry-Admin-Pass-1' };
/** What a PostgreSQL/Redis adapter might put in its message: must stay in the log, never in a body. */
const ADAPTER_DETAIL = 'connect ECONNREFUSED 10.9.8.7:5432 (user portcullis)';

function json(res: LightMyRequestResponse): Record<string, any> {
  return JSON.parse(res.body) as Record<string, any>;
}

function assertRetryLater(res: LightMyRequestResponse, seconds: string) {
  assert.equal(res.statusCode, 503, res.body);
  assert.equal(res.headers['retry-after'], seconds);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  assert.ok(!res.body.includes('ECONNREFUSED') && !res.body.includes('10.9.8.7'), `adapter detail leaked: ${res.body}`);
}

function assertHcx(res: LightMyRequestResponse, seconds: string, error: string) {
  assertRetryLater(res, seconds);
  const body = json(res);
  assert.deepEqual(Object.keys(body), ['success', 'completed', 'time', 'version', 'errorCode', 'error']);
  assert.equal(body.success, false);
  assert.equal(body.errorCode, 'INTERNAL_SERVER_ERROR');
  assert.equal(body.error, error);
  assert.equal(res.headers['x-hm-authorization'], undefined);
}

function assertLxca(res: LightMyRequestResponse, seconds: string, id: string) {
  assertRetryLater(res, seconds);
  const body = json(res);
  assert.equal(body.result, 'failure');
  assert.equal(body.messages.length, 1);
  const m = body.messages[0];
  assert.deepEqual(Object.keys(m).sort(), ['explanation', 'id', 'recovery', 'text']);
  assert.equal(m.id, id);
  assert.match(m.recovery.text, /Retry-After/);
  assert.equal(res.headers['set-cookie'], undefined, 'a refused login sets no cookie');
}

function assertAdmin(res: LightMyRequestResponse, seconds: string, code: string) {
  assertRetryLater(res, seconds);
  const body = json(res);
  assert.deepEqual(Object.keys(body), ['error']);
  assert.equal(body.error.code, code);
  assert.match(body.error.message, /Retry-After/);
}

describe('busy and unavailable in every dialect (503 + Retry-After)', () => {
  let h: Harness;
  let token: string;
  const restore: (() => void)[] = [];

  /** Replaces a method of one object for one test. */
  function inject<T extends object, K extends keyof T>(obj: T, key: K, fn: T[K]) {
    const had = Object.hasOwn(obj, key);
    const original = obj[key];
    obj[key] = fn;
    restore.push(() => {
      if (had) obj[key] = original;
      else delete obj[key];
    });
  }

  const storeDown = () => {
    throw new CoreError('unavailable', `session store: ${ADAPTER_DETAIL}`);
  };
  const hashingBusy = () => Promise.reject(new CoreError('busy'));

  before(async () => {
    h = await harness();
    await addUser(h, ADMIN.username, ADMIN.password, ADMIN_ROLES);
    const res = await h.app.inject({ method: 'POST', url: '/api/admin/v1/sessions', payload: { username: ADMIN.username, password: ADMIN.password } });
    assert.equal(res.statusCode, 200, res.body);
    token = String(res.headers['x-hm-authorization']);
  });
  afterEach(() => {
    for (const r of restore.splice(0).reverse()) r();
  });
  after(() => h.close());

  describe('unavailable: the session store is down', () => {
    it('HCX answers a session check with 503, Retry-After and its INTERNAL_SERVER_ERROR body', async () => {
      inject(h.p.store, 'findSessionByTokenHash', async () => storeDown());
      inject(h.p.store, 'cachedSession', () => undefined);
      const res = await h.app.inject({ method: 'GET', url: '/api/admin/v1/sessions', headers: { 'x-hm-authorization': token } });
      assertHcx(res, '2', 'Service temporarily unavailable; retry shortly.');
    });

    it('XClarity answers a session check with 503, Retry-After and message FQXHMSE0118J', async () => {
      inject(h.p.store, 'findSessionByTokenHash', async () => storeDown());
      inject(h.p.store, 'cachedSession', () => undefined);
      const res = await h.app.inject({ method: 'GET', url: '/sessions', headers: { cookie: `JSESSIONID=${token}` } });
      assertLxca(res, '2', 'FQXHMSE0118J');
    });

    it('the admin API answers a session check with 503, Retry-After and code "unavailable"', async () => {
      inject(h.p.store, 'findSessionByTokenHash', async () => storeDown());
      inject(h.p.store, 'cachedSession', () => undefined);
      const res = await h.app.inject({ method: 'GET', url: '/portcullis/api/v1/sessions', headers: { authorization: `Bearer ${token}` } });
      assertAdmin(res, '2', 'unavailable');
    });

    it('a login whose account store is down is "unavailable", not "identity source unreachable", in HCX and XClarity', async () => {
      inject(h.p.store, 'getAccount', async () => storeDown());
      const hcx = await h.app.inject({ method: 'POST', url: '/api/admin/v1/sessions', payload: { username: ADMIN.username, password: ADMIN.password } });
      assertHcx(hcx, '2', 'Service temporarily unavailable; retry shortly.');
      const lxca = await h.app.inject({ method: 'POST', url: '/sessions', payload: { UserId: ADMIN.username, password: ADMIN.password } });
      assertLxca(lxca, '2', 'FQXHMSE0118J');
    });

    it('is logged at error level with the adapter\'s detail, and without the token or the password', async () => {
      const before = h.logger.lines.length;
      inject(h.p.store, 'findSessionByTokenHash', async () => storeDown());
      inject(h.p.store, 'cachedSession', () => undefined);
      inject(h.p.store, 'getAccount', async () => storeDown());
      await h.app.inject({ method: 'GET', url: '/api/admin/v1/sessions', headers: { 'x-hm-authorization': token } });
      await h.app.inject({ method: 'POST', url: '/sessions', payload: { UserId: ADMIN.username, password: ADMIN.password } });
      const lines = h.logger.lines.slice(before);
      const errors = lines.filter((l) => l.level === 'error' && (l.obj as { code?: string }).code === 'unavailable');
      assert.equal(errors.length, 2, JSON.stringify(lines));
      const text = JSON.stringify(lines);
      assert.ok(text.includes('ECONNREFUSED'), 'the operator needs the reason');
      assert.ok(!text.includes(token), 'the token must never be logged');
      assert.ok(!text.includes(ADMIN.password), 'the password must never be logged');
    });
  });

  describe('busy: password checking refused by the admission limit', () => {
    it('HCX answers a refused login (both login paths) with 503, Retry-After 1 and its INTERNAL_SERVER_ERROR body', async () => {
      inject(h.p.local, 'authenticate', hashingBusy);
      for (const url of ['/api/admin/v1/sessions', '/hybridity/api/sessions']) {
        const res = await h.app.inject({ method: 'POST', url, payload: { username: ADMIN.username, password: ADMIN.password } });
        assertHcx(res, '1', 'Too many logins at once; retry shortly.');
      }
    });

    it('XClarity answers a refused login with 503, Retry-After 1 and message FQXHMSE0117J', async () => {
      inject(h.p.local, 'authenticate', hashingBusy);
      const res = await h.app.inject({ method: 'POST', url: '/sessions', payload: { UserId: ADMIN.username, password: ADMIN.password } });
      assertLxca(res, '1', 'FQXHMSE0117J');
    });

    it('the admin API answers a refused password check with 503, Retry-After 1 and code "busy"', async () => {
      inject(h.p.accounts, 'changeOwnPassword', hashingBusy);
      const res = await h.app.inject({
        method: 'PUT',
        url: '/portcullis/api/v1/password',
        headers: { authorization: `Bearer ${token}` },
        payload: { currentPassword: ADMIN.password, newPassword: 'Another-Pass-2' },
      });
      assertAdmin(res, '1', 'busy');
    });

    it('a refused login is not a failed login: no failure is counted or audited', async () => {
      inject(h.p.local, 'authenticate', hashingBusy);
      for (let i = 0; i < 12; i++) {
        const res = await h.app.inject({ method: 'POST', url: '/sessions', payload: { UserId: ADMIN.username, password: 'wrong-password-x' } });
        assert.equal(res.statusCode, 503);
      }
      const now = h.clock.now();
      const account = await h.p.store.getLoginFailures('account', ADMIN.username, now, 3_600_000);
      assert.equal(account.count, 0);
      assert.equal(account.locked, false);
      assert.equal((await h.p.store.getLoginFailures('source', '127.0.0.1', now, 3_600_000)).count, 0);
      const failures = await h.p.audit.query({ username: ADMIN.username, kind: 'login.failure' });
      assert.equal(failures.length, 0);
    });
  });
});
