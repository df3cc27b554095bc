import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { ManualClock } from '../../src/ports/clock.js';
import { ADMIN_ROLES, addUser, harness, type Harness } from '../helpers.js';

/*
 * Hostile and broken login requests on every login route. Each gets a 4xx (never
 * a 500) in its own dialect's envelope, leaks neither the password nor a stack
 * trace, and stores nothing. The bodies carry the *right* credentials wherever
 * they can, so a lenient parser that let the request through would log in and
 * leave a session behind.
 */

const START = Date.UTC(2026, 10, 23, 9, 0, 0);
const USER = 'alice';
const PASS = 'Correct-Horse-9q';
const LONG_PASS = PASS + 'z'.repeat(1025 - PASS.length);
const MESSAGE_ID = /^FQXHM[A-Z]{2}\d{4}[A-Z]$/;
const STACK_FRAME = /\bat (?:\S+ )?\(?[^\s()]+:\d+:\d+\)?/;

type DialectName = 'hcx' | 'lxca';

interface Target {
  label: string;
  url: string;
  dialect: DialectName;
  /** The body field that names the user. */
  userField: 'username' | 'UserId';
}

const TARGETS: Target[] = [
  { label: 'HCX POST /api/admin/v1/sessions', url: '/api/admin/v1/sessions', dialect: 'hcx', userField: 'username' },
  { label: 'HCX POST /hybridity/api/sessions', url: '/hybridity/api/sessions', dialect: 'hcx', userField: 'username' },
  { label: 'XClarity POST /sessions', url: '/sessions', dialect: 'lxca', userField: 'UserId' },
];

interface Request {
  payload?: string;
  contentType?: string;
}

interface Case {
  name: string;
  status: number;
  /** A field the error message must name. */
  field?: (t: Target) => string;
  /** Only for one dialect. */
  only?: DialectName;
  request(t: Target): Request;
}

/** The right credentials, with some fields replaced (undefined = removed). */
function creds(t: Target, over: Record<string, unknown> = {}): Record<string, unknown> {
  const body: Record<string, unknown> = { [t.userField]: USER, password: PASS, ...over };
  for (const [k, v] of Object.entries(body)) if (v === undefined) delete body[k];
  return body;
}

const asJson = (payload: string): Request => ({ payload, contentType: 'application/json' });
const json = (value: unknown): Request => asJson(JSON.stringify(value));

const CASES: Case[] = [
  { name: 'malformed JSON (a truncated object)', status: 400, request: (t) => asJson(JSON.stringify(creds(t)).slice(0, -1)) },
  { name: 'malformed JSON (a trailing comma)', status: 400, request: (t) => asJson(JSON.stringify(creds(t)).replace(/}$/, ',}')) },
  { name: 'malformed JSON (single quotes)', status: 400, request: (t) => asJson(`{'${t.userField}':'${USER}','password':'${PASS}'}`) },
  { name: 'an empty body sent as application/json', status: 400, request: () => asJson('') },
  { name: 'a request without any body', status: 400, request: () => ({}) },
  { name: 'a JSON array body', status: 400, request: (t) => json([creds(t)]) },
  { name: 'a JSON string body', status: 400, request: (t) => json(JSON.stringify(creds(t))) },
  { name: 'a JSON null body', status: 400, request: () => asJson('null') },
  { name: 'a JSON number body', status: 400, request: () => asJson('42') },
  { name: 'a body missing the user field', status: 400, field: (t) => t.userField, request: (t) => json(creds(t, { [t.userField]: undefined })) },
  { name: 'a body missing the password field', status: 400, field: () => 'password', request: (t) => json(creds(t, { password: undefined })) },
  { name: 'a numeric user name (123)', status: 400, field: (t) => t.userField, request: (t) => json(creds(t, { [t.userField]: 123 })) },
  { name: 'a boolean password (true)', status: 400, field: () => 'password', request: (t) => json(creds(t, { password: true })) },
  { name: 'an object password ({"$ne": ""})', status: 400, field: () => 'password', request: (t) => json(creds(t, { password: { $ne: '' } })) },
  { name: 'a numeric authType (5)', status: 400, only: 'hcx', field: () => 'authType', request: (t) => json(creds(t, { authType: 5 })) },
  { name: 'an unknown extra field', status: 400, field: () => 'extra', request: (t) => json(creds(t, { extra: 1 })) },
  { name: 'the HCX field name "username" instead of "UserId"', status: 400, only: 'lxca', field: () => 'UserId', request: () => json({ username: USER, password: PASS }) },
  { name: 'a text/plain body', status: 415, request: (t) => ({ payload: JSON.stringify(creds(t)), contentType: 'text/plain' }) },
  {
    name: 'an application/x-www-form-urlencoded body',
    status: 415,
    request: (t) => ({ payload: `${t.userField}=${USER}&password=${encodeURIComponent(PASS)}`, contentType: 'application/x-www-form-urlencoded' }),
  },
  { name: 'a body over the 16384-byte limit', status: 413, request: (t) => json(creds(t, { padding: 'p'.repeat(16384) })) },
  { name: 'a user name with a control character', status: 400, request: (t) => json(creds(t, { [t.userField]: `${USER}\u0007` })) },
  { name: 'a user name with a NUL character', status: 400, request: (t) => json(creds(t, { [t.userField]: `${USER}\u0000` })) },
  { name: 'a user name that is a lone surrogate', status: 400, request: (t) => json(creds(t, { [t.userField]: '\ud800' })) },
  { name: 'a user name of 257 characters', status: 400, request: (t) => json(creds(t, { [t.userField]: 'u'.repeat(257) })) },
  { name: 'a password of 1025 characters', status: 400, request: (t) => json(creds(t, { password: LONG_PASS })) },
  { name: 'a password with a NUL character', status: 400, request: (t) => json(creds(t, { password: `${PASS}\u0000` })) },
  { name: 'a password with a lone surrogate', status: 400, request: (t) => json(creds(t, { password: `${PASS}\udc00` })) },
  { name: 'an empty user name', status: 400, request: (t) => json(creds(t, { [t.userField]: '' })) },
  { name: 'an empty password', status: 400, request: (t) => json(creds(t, { password: '' })) },
  { name: 'a __proto__ key', status: 400, request: (t) => asJson(`{"${t.userField}":"${USER}","password":"${PASS}","__proto__":{"isAdmin":true}}`) },
  { name: 'a constructor.prototype key', status: 400, request: (t) => asJson(`{"${t.userField}":"${USER}","password":"${PASS}","constructor":{"prototype":{"isAdmin":true}}}`) },
];

/** The error text of either envelope, after checking the envelope's exact shape. */
function assertEnvelope(res: LightMyRequestResponse, dialect: DialectName, now: number): string {
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const body = JSON.parse(res.body) as Record<string, any>;
  if (dialect === 'hcx') {
    assert.deepEqual(Object.keys(body), ['success', 'completed', 'time', 'version', 'errorCode', 'error'], res.body);
    assert.equal(body.success, false);
    assert.equal(body.completed, false);
    assert.equal(body.time, now);
    assert.equal(body.version, '1.0');
    assert.equal(body.errorCode, 'BAD_REQUEST');
    assert.equal(typeof body.error, 'string');
    assert.ok(body.error.length > 0);
    return body.error as string;
  }
  assert.deepEqual(Object.keys(body), ['result', 'messages'], res.body);
  assert.equal(body.result, 'failure');
  assert.equal(body.messages.length, 1);
  const m = body.messages[0];
  assert.deepEqual(Object.keys(m), ['explanation', 'id', 'recovery', 'text']);
  assert.deepEqual(Object.keys(m.recovery), ['text', 'URL']);
  assert.match(m.id, MESSAGE_ID);
  assert.equal(typeof m.text, 'string');
  return m.text as string;
}

function assertNoLeak(res: LightMyRequestResponse, sent: string | undefined) {
  assert.ok(!res.body.includes(PASS), 'the password is not echoed');
  if (sent) assert.ok(!res.body.includes(sent), 'the request body is not echoed');
  assert.doesNotMatch(res.body, STACK_FRAME, 'no stack frame');
  assert.ok(!res.body.includes('Error:'), 'no error class name');
}

describe('bad input on the login routes', () => {
  let h: Harness;
  let clock: ManualClock;

  before(async () => {
    clock = new ManualClock(START);
    h = await harness({ clock });
    await addUser(h, USER, PASS, ADMIN_ROLES);
  });
  after(() => h.close());
  afterEach(async () => {
    const left = await h.p.sessions.listSessions();
    // Clean up first, so one leaky case does not fail every case after it.
    for (const s of left) await h.p.store.deleteSession(s.id);
    assert.deepEqual(left.map((s) => s.username), [], 'no session was stored');
  });

  it('lets the good credentials used below log in (checked on a throwaway harness)', async () => {
    const other = await harness();
    try {
      await addUser(other, USER, PASS, ADMIN_ROLES);
      for (const t of TARGETS) {
        const res = await other.app.inject({ method: 'POST', url: t.url, payload: creds(t) });
        assert.equal(res.statusCode, 200, `${t.label}: ${res.body}`);
      }
    } finally {
      await other.close();
    }
  });

  for (const t of TARGETS) {
    describe(t.label, () => {
      for (const c of CASES) {
        if (c.only && c.only !== t.dialect) continue;
        it(`${t.label} answers ${c.name} with ${c.status} in the ${t.dialect === 'hcx' ? 'HCX' : 'XClarity'} envelope and stores nothing`, async () => {
          const { payload, contentType } = c.request(t);
          const res = await h.app.inject({
            method: 'POST',
            url: t.url,
            ...(payload !== undefined && { payload }),
            headers: contentType ? { 'content-type': contentType } : {},
          });
          assert.equal(res.statusCode, c.status, res.body);
          const text = assertEnvelope(res, t.dialect, clock.now());
          if (c.field) assert.ok(text.includes(c.field(t)), `the message names the field ${c.field(t)}: ${text}`);
          assert.equal(res.headers['x-hm-authorization'], undefined);
          assert.equal(res.headers['set-cookie'], undefined);
          assertNoLeak(res, payload && payload.length > 24 && payload.length < 2000 ? payload : undefined);
          assert.ok(!res.body.includes(LONG_PASS.slice(-40)), 'no part of a long password is echoed');
        });
      }
    });
  }
});

describe('unknown routes', () => {
  let h: Harness;
  let clock: ManualClock;

  before(async () => {
    clock = new ManualClock(START);
    h = await harness({ clock });
  });
  after(() => h.close());

  for (const [method, url] of [
    ['GET', '/api/admin/v2/nothing'],
    ['POST', '/api/admin/v1/nothing'],
    ['GET', '/hybridity/api/nothing'],
  ] as const) {
    it(`answers ${method} ${url} with 404 in the HCX envelope`, async () => {
      const res = await h.app.inject({ method, url, ...(method !== 'GET' && { payload: { username: USER, password: PASS } }) });
      assert.equal(res.statusCode, 404, res.body);
      assertEnvelope(res, 'hcx', clock.now());
      assertNoLeak(res, undefined);
    });
  }

  for (const [method, url] of [
    ['GET', '/foo'],
    ['POST', '/foo/bar'],
    ['GET', '/api/adminx'],
  ] as const) {
    it(`answers ${method} ${url} with 404 in the XClarity envelope`, async () => {
      const res = await h.app.inject({ method, url, ...(method !== 'GET' && { payload: { UserId: USER, password: PASS } }) });
      assert.equal(res.statusCode, 404, res.body);
      assertEnvelope(res, 'lxca', clock.now());
      assertNoLeak(res, undefined);
    });
  }

  for (const [method, url, dialect, allow] of [
    ['PUT', '/api/admin/v1/sessions', 'hcx', 'GET, HEAD, POST, DELETE'],
    ['PUT', '/sessions', 'lxca', 'GET, HEAD, POST, DELETE'],
  ] as const) {
    it(`answers ${method} ${url}, a path that exists for other methods, with 405, Allow and the ${dialect} envelope`, async () => {
      const res = await h.app.inject({ method, url, payload: dialect === 'hcx' ? { username: USER, password: PASS } : { UserId: USER, password: PASS } });
      assert.equal(res.statusCode, 405, res.body);
      assert.equal(res.headers.allow, allow);
      assertEnvelope(res, dialect, clock.now());
      assertNoLeak(res, undefined);
    });
  }

  it('stores nothing for unknown routes', async () => {
    assert.deepEqual(await h.p.sessions.listSessions(), []);
  });
});
