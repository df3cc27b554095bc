import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { ManualClock } from '../../src/ports/clock.js';
import { addUser, harness, type Harness } from '../helpers.js';

/*
 * HTTP contract of the HCX dialect against seed 000 (VMware HCX "create session")
 * and API-NOTES.md (older /hybridity/api/sessions, tokens on protected calls).
 */

const START = Date.UTC(2026, 10, 23, 9, 0, 0) + 123; // a time with milliseconds, so `time` must be exact to the ms
const MINUTE = 60_000;

/** The seed's 200 example body, verbatim (its username is an e-mail address obscured by the page). */
const SEED_SUCCESS = {
  success: true,
  completed: true,
  time: 1753089693083,
  version: '1.0',
  data: {
    user: {
      enterprise: 'HybridityAdmin',
      organization: ['DEFAULT'],
      currentOrganization: 'DEFAULT',
      roles: ['System Administrator', 'Appliance Administrator'],
      username: '[email protected]',
      transactionId: '4636e751-ca87-42d4-a7fc-809b31fbbd82',
    },
    cloud: { name: 'HCX Manager', type: 'vsphere' },
    organizations: [{ name: 'DEFAULT', id: 'default-org-id' }],
  },
};

/** The seed's error example bodies, verbatim, by status. */
const SEED_ERRORS = {
  400: { success: false, completed: false, time: 1753089693083, version: '1.0', errorCode: 'BAD_REQUEST', error: 'Unsupported auth type: invalid' },
  401: { success: false, completed: false, time: 1753089693083, version: '1.0', errorCode: 'INVALID_CREDENTIALS', error: 'Invalid username or password.' },
  403: { success: false, completed: false, time: 1753089693083, version: '1.0', errorCode: 'NOT_ENOUGH_PRIVILEGES', error: 'Access Denied' },
  500: { success: false, completed: false, time: 1753089693083, version: '1.0', errorCode: 'INTERNAL_SERVER_ERROR', error: 'Exception while performing auth' },
} as const;

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

const ADMIN = { username: 'hcxadmin', password: 'Hcx-Admin-Pass-1', roles: ['System Administrator', 'Appliance Administrator'] };
const AUDITOR = { username: 'auditor', password: 'Auditor-Pass-1', roles: ['Auditor'] };

/** A value's structure: objects as their [key, shape] entries in order, arrays element by element, leaves as their type. */
function shape(v: unknown): unknown {
  if (Array.isArray(v)) return { array: v.map(shape) };
  if (v !== null && typeof v === 'object') return { object: Object.entries(v).map(([k, x]) => [k, shape(x)]) };
  return v === null ? 'null' : typeof v;
}

function json(res: LightMyRequestResponse): Record<string, any> {
  return JSON.parse(res.body) as Record<string, any>;
}

/** The seed's error body with `time` set to the clock. */
function seedError(status: keyof typeof SEED_ERRORS, now: number) {
  return { ...SEED_ERRORS[status], time: now };
}

function assertHcxError(res: LightMyRequestResponse, status: number, errorCode: string, now: number, error?: string) {
  assert.equal(res.statusCode, status, res.body);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const body = json(res);
  assert.deepEqual(Object.keys(body), ['success', 'completed', 'time', 'version', 'errorCode', 'error']);
  assert.equal(body.success, false);
  assert.equal(body.completed, false);
  assert.equal(body.time, now);
  assert.equal(body.version, '1.0');
  assert.equal(body.errorCode, errorCode);
  assert.equal(typeof body.error, 'string');
  if (error !== undefined) assert.equal(body.error, error);
  assert.equal(res.headers['x-hm-authorization'], undefined, 'a failure must not carry a token');
}

function post(h: Harness, body: unknown, url = '/api/admin/v1/sessions') {
  return h.app.inject({ method: 'POST', url, payload: body as object });
}

async function loginToken(h: Harness, user: { username: string; password: string }): Promise<string> {
  const res = await post(h, { username: user.username, password: user.password });
  assert.equal(res.statusCode, 200, res.body);
  const token = res.headers['x-hm-authorization'];
  assert.equal(typeof token, 'string');
  return token as string;
}

function getWithToken(h: Harness, token: string, extra: Record<string, string> = {}) {
  return h.app.inject({ method: 'GET', url: '/api/admin/v1/sessions', headers: { 'x-hm-authorization': token, ...extra } });
}

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}

describe('HCX POST /api/admin/v1/sessions (seed 000)', () => {
  let h: Harness;
  let clock: ManualClock;

  before(async () => {
    clock = new ManualClock(START);
    h = await harness({ clock });
    await addUser(h, ADMIN.username, ADMIN.password, ADMIN.roles);
    await addUser(h, AUDITOR.username, AUDITOR.password, AUDITOR.roles);
  });
  after(() => h.close());

  it('answers a local login with 200 and exactly the seed body keys, in the seed order, at every level', async () => {
    const res = await post(h, { username: ADMIN.username, password: ADMIN.password });
    assert.equal(res.statusCode, 200, res.body);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    assert.deepEqual(shape(json(res)), shape(SEED_SUCCESS));
  });

  it('fills the success body with the account, the HCX cloud and the DEFAULT organization id', async () => {
    const body = json(await post(h, { username: ADMIN.username, password: ADMIN.password }));
    assert.equal(body.success, true);
    assert.equal(body.completed, true);
    assert.equal(body.version, '1.0');
    const { transactionId, ...user } = body.data.user;
    assert.deepEqual(user, {
      enterprise: 'HybridityAdmin',
      organization: ['DEFAULT'],
      currentOrganization: 'DEFAULT',
      roles: ADMIN.roles,
      username: ADMIN.username,
    });
    assert.match(transactionId, UUID_V4);
    assert.deepEqual(body.data.cloud, { name: 'HCX Manager', type: 'vsphere' });
    assert.deepEqual(body.data.organizations, [{ name: 'DEFAULT', id: 'default-org-id' }]);
  });

  it('reports time as the injected clock in milliseconds', async () => {
    clock.advance(4_321);
    const body = json(await post(h, { username: ADMIN.username, password: ADMIN.password }));
    assert.equal(typeof body.time, 'number');
    assert.ok(Number.isInteger(body.time));
    assert.equal(body.time, clock.now());
  });

  it('gives every request its own UUID v4 transactionId', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const body = json(await post(h, { username: ADMIN.username, password: ADMIN.password }));
      assert.match(body.data.user.transactionId, UUID_V4);
      ids.add(body.data.user.transactionId);
    }
    assert.equal(ids.size, 3);
  });

  it('returns the token in x-hm-authorization as 43 base64url characters, named by auth_token_name', async () => {
    const res = await post(h, { username: ADMIN.username, password: ADMIN.password });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['x-hm-authorization']), TOKEN_SHAPE);
    assert.equal(res.headers['auth_token_name'], 'x-hm-authorization');
    assert.ok(!res.body.includes(String(res.headers['x-hm-authorization'])), 'the token is not repeated in the body');
  });

  it('gives a fresh token at every login, and each of them works', async () => {
    const a = await loginToken(h, ADMIN);
    const b = await loginToken(h, ADMIN);
    assert.notEqual(a, b);
    assert.equal((await getWithToken(h, a)).statusCode, 200);
    assert.equal((await getWithToken(h, b)).statusCode, 200);
  });

  it('accepts an explicit authType "local" like the default', async () => {
    const res = await post(h, { authType: 'local', username: ADMIN.username, password: ADMIN.password });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(shape(json(res)), shape(SEED_SUCCESS));
    assert.equal((await getWithToken(h, String(res.headers['x-hm-authorization']))).statusCode, 200);
  });

  it('answers an unsupported authType with the seed 400 body "Unsupported auth type: invalid"', async () => {
    const res = await post(h, { authType: 'invalid', username: ADMIN.username, password: ADMIN.password });
    assert.equal(res.statusCode, 400);
    assert.deepEqual(json(res), seedError(400, clock.now()));
    assert.deepEqual(Object.keys(json(res)), Object.keys(SEED_ERRORS[400]));
  });

  it('answers a wrong password with the seed 401 INVALID_CREDENTIALS body', async () => {
    const res = await post(h, { username: ADMIN.username, password: 'Wrong-Password-1' });
    assert.equal(res.statusCode, 401);
    assert.deepEqual(json(res), seedError(401, clock.now()));
    assert.deepEqual(Object.keys(json(res)), Object.keys(SEED_ERRORS[401]));
    assert.equal(res.headers['x-hm-authorization'], undefined);
  });

  it('answers an unknown user with a body byte-identical to a wrong password apart from time', async () => {
    const wrong = await post(h, { username: ADMIN.username, password: 'Wrong-Password-1' });
    clock.advance(1_000);
    const unknown = await post(h, { username: 'nobody-here', password: 'Wrong-Password-1' });
    assert.equal(unknown.statusCode, 401);
    assert.equal(wrong.statusCode, 401);
    assert.equal(json(unknown).time, clock.now());
    const strip = (s: string) => s.replace(/"time":\d+/, '"time":0');
    assert.equal(strip(unknown.body), strip(wrong.body));
    assert.deepEqual(json(unknown), seedError(401, clock.now()));
  });

  it('answers a user without an HCX role with the seed 403 NOT_ENOUGH_PRIVILEGES body and makes no session', async () => {
    const before = (await h.p.sessions.listSessions({ username: AUDITOR.username })).length;
    const res = await post(h, { username: AUDITOR.username, password: AUDITOR.password });
    assert.equal(res.statusCode, 403);
    assert.deepEqual(json(res), seedError(403, clock.now()));
    assert.equal(res.headers['x-hm-authorization'], undefined);
    assert.equal((await h.p.sessions.listSessions({ username: AUDITOR.username })).length, before);
    assert.equal(before, 0);
  });

  it('answers authType "vsphere" (not configured) with the seed 500 body and never logs in', async () => {
    for (const password of [ADMIN.password, 'Wrong-Password-1']) {
      const res = await post(h, { authType: 'vsphere', username: ADMIN.username, password });
      assert.equal(res.statusCode, 500);
      assert.deepEqual(json(res), seedError(500, clock.now()));
      assert.equal(res.headers['x-hm-authorization'], undefined);
    }
    const sessions = await h.p.sessions.listSessions();
    assert.ok(sessions.every((s) => s.authSource !== 'vsphere'), 'no session from the vsphere provider');
  });
});

describe('HCX protected calls with the x-hm-authorization token', () => {
  let h: Harness;
  let clock: ManualClock;
  let timeoutMs: number;

  before(async () => {
    clock = new ManualClock(START);
    h = await harness({ clock });
    timeoutMs = h.config.session.inactivityTimeoutMinutes * MINUTE;
    await addUser(h, ADMIN.username, ADMIN.password, ADMIN.roles);
  });
  after(() => h.close());

  it('uses the default inactivity timeout of 24 minutes', () => {
    assert.equal(h.config.session.inactivityTimeoutMinutes, 24);
  });

  it('answers GET /api/admin/v1/sessions with the token with the user body of the session', async () => {
    const token = await loginToken(h, ADMIN);
    clock.advance(500);
    const res = await getWithToken(h, token);
    assert.equal(res.statusCode, 200, res.body);
    const body = json(res);
    assert.deepEqual(shape(body), shape(SEED_SUCCESS));
    assert.equal(body.success, true);
    assert.equal(body.completed, true);
    assert.equal(body.time, clock.now());
    assert.equal(body.version, '1.0');
    assert.equal(body.data.user.username, ADMIN.username);
    assert.deepEqual(body.data.user.roles, ADMIN.roles);
    assert.match(body.data.user.transactionId, UUID_V4);
    assert.deepEqual(body.data.organizations, [{ name: 'DEFAULT', id: 'default-org-id' }]);
  });

  it('logs out with DELETE, answering {success, completed, time, version}, after which the token gets 401 INVALID_SESSION_TOKEN', async () => {
    const token = await loginToken(h, ADMIN);
    const res = await h.app.inject({ method: 'DELETE', url: '/api/admin/v1/sessions', headers: { 'x-hm-authorization': token } });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(json(res), { success: true, completed: true, time: clock.now(), version: '1.0' });
    assert.deepEqual(Object.keys(json(res)), ['success', 'completed', 'time', 'version']);
    assertHcxError(await getWithToken(h, token), 401, 'INVALID_SESSION_TOKEN', clock.now());
    const again = await h.app.inject({ method: 'DELETE', url: '/api/admin/v1/sessions', headers: { 'x-hm-authorization': token } });
    assertHcxError(again, 401, 'INVALID_SESSION_TOKEN', clock.now());
  });

  it('answers a call without any credentials with 401 INVALID_SESSION_TOKEN', async () => {
    assertHcxError(await h.app.inject({ method: 'GET', url: '/api/admin/v1/sessions' }), 401, 'INVALID_SESSION_TOKEN', clock.now());
    assertHcxError(await h.app.inject({ method: 'DELETE', url: '/api/admin/v1/sessions' }), 401, 'INVALID_SESSION_TOKEN', clock.now());
  });

  it('answers a garbage token with 401 INVALID_SESSION_TOKEN', async () => {
    for (const token of ['garbage', '', 'x'.repeat(43) + '!', 'Bearer abc', '../../etc/passwd']) {
      assertHcxError(await getWithToken(h, token), 401, 'INVALID_SESSION_TOKEN', clock.now());
    }
  });

  it('answers a well-formed but unknown token with 401 INVALID_SESSION_TOKEN', async () => {
    const real = await loginToken(h, ADMIN);
    const unknown = real.slice(0, -1) + (real.endsWith('A') ? 'B' : 'A');
    assertHcxError(await getWithToken(h, unknown), 401, 'INVALID_SESSION_TOKEN', clock.now());
    assertHcxError(await getWithToken(h, 'A'.repeat(43)), 401, 'INVALID_SESSION_TOKEN', clock.now());
  });

  it('keeps a token alive one ms before the inactivity timeout and expires it exactly at the timeout', async () => {
    const alive = await loginToken(h, ADMIN);
    const boundary = await loginToken(h, ADMIN);
    clock.advance(timeoutMs - 1);
    assert.equal((await getWithToken(h, alive)).statusCode, 200);
    clock.advance(1);
    assertHcxError(await getWithToken(h, boundary), 401, 'INVALID_SESSION_TOKEN', clock.now());
  });

  it('answers a token idle past the inactivity timeout with 401, and it stays dead', async () => {
    const token = await loginToken(h, ADMIN);
    clock.advance(timeoutMs + 60_000);
    assertHcxError(await getWithToken(h, token), 401, 'INVALID_SESSION_TOKEN', clock.now());
    clock.advance(-timeoutMs);
    assertHcxError(await getWithToken(h, token), 401, 'INVALID_SESSION_TOKEN', clock.now());
    clock.advance(timeoutMs);
  });

  it('renews the inactivity timer on each use of the token', async () => {
    const token = await loginToken(h, ADMIN);
    clock.advance(timeoutMs - MINUTE);
    assert.equal((await getWithToken(h, token)).statusCode, 200);
    clock.advance(timeoutMs - MINUTE);
    assert.equal((await getWithToken(h, token)).statusCode, 200);
  });

  it('answers GET with good HTTP Basic credentials with 200 and the user body, making no session', async () => {
    const before = (await h.p.sessions.listSessions()).length;
    const res = await h.app.inject({ method: 'GET', url: '/api/admin/v1/sessions', headers: { authorization: basic(ADMIN.username, ADMIN.password) } });
    assert.equal(res.statusCode, 200, res.body);
    const body = json(res);
    assert.deepEqual(shape(body), shape(SEED_SUCCESS));
    assert.equal(body.data.user.username, ADMIN.username);
    assert.equal(body.time, clock.now());
    assert.equal(res.headers['x-hm-authorization'], undefined);
    assert.equal((await h.p.sessions.listSessions()).length, before);
  });

  it('answers GET with bad HTTP Basic credentials with 401 INVALID_CREDENTIALS', async () => {
    const wrong = await h.app.inject({ method: 'GET', url: '/api/admin/v1/sessions', headers: { authorization: basic(ADMIN.username, 'Wrong-Password-1') } });
    assertHcxError(wrong, 401, 'INVALID_CREDENTIALS', clock.now(), 'Invalid username or password.');
    const unknown = await h.app.inject({ method: 'GET', url: '/api/admin/v1/sessions', headers: { authorization: basic('nobody-here', 'Wrong-Password-1') } });
    assertHcxError(unknown, 401, 'INVALID_CREDENTIALS', clock.now(), 'Invalid username or password.');
    assert.equal(unknown.body, wrong.body);
  });
});

describe('HCX older login POST /hybridity/api/sessions', () => {
  let h: Harness;
  let clock: ManualClock;

  before(async () => {
    clock = new ManualClock(START);
    h = await harness({ clock });
    await addUser(h, ADMIN.username, ADMIN.password, ADMIN.roles);
    await addUser(h, AUDITOR.username, AUDITOR.password, AUDITOR.roles);
  });
  after(() => h.close());

  it('answers a good login with 200, an empty body and a token that works on GET /api/admin/v1/sessions', async () => {
    const res = await post(h, { username: ADMIN.username, password: ADMIN.password }, '/hybridity/api/sessions');
    assert.equal(res.statusCode, 200);
    assert.equal(res.body, '');
    const token = String(res.headers['x-hm-authorization']);
    assert.match(token, TOKEN_SHAPE);
    const me = await getWithToken(h, token);
    assert.equal(me.statusCode, 200, me.body);
    assert.equal(json(me).data.user.username, ADMIN.username);
  });

  it('accepts the authType some clients send', async () => {
    const res = await post(h, { authType: 'local', username: ADMIN.username, password: ADMIN.password }, '/hybridity/api/sessions');
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['x-hm-authorization']), TOKEN_SHAPE);
  });

  it('gives a fresh token at every login', async () => {
    const a = await post(h, { username: ADMIN.username, password: ADMIN.password }, '/hybridity/api/sessions');
    const b = await post(h, { username: ADMIN.username, password: ADMIN.password }, '/hybridity/api/sessions');
    assert.notEqual(a.headers['x-hm-authorization'], b.headers['x-hm-authorization']);
  });

  it('answers bad credentials with the seed 401 body', async () => {
    const res = await post(h, { username: ADMIN.username, password: 'Wrong-Password-1' }, '/hybridity/api/sessions');
    assert.equal(res.statusCode, 401);
    assert.deepEqual(json(res), seedError(401, clock.now()));
  });

  it('answers an unsupported authType with the seed 400 body', async () => {
    const res = await post(h, { authType: 'invalid', username: ADMIN.username, password: ADMIN.password }, '/hybridity/api/sessions');
    assert.equal(res.statusCode, 400);
    assert.deepEqual(json(res), seedError(400, clock.now()));
  });

  it('answers a user without an HCX role with the seed 403 body', async () => {
    const res = await post(h, { username: AUDITOR.username, password: AUDITOR.password }, '/hybridity/api/sessions');
    assert.equal(res.statusCode, 403);
    assert.deepEqual(json(res), seedError(403, clock.now()));
  });

  it('answers authType "vsphere" with the seed 500 body', async () => {
    const res = await post(h, { authType: 'vsphere', username: ADMIN.username, password: ADMIN.password }, '/hybridity/api/sessions');
    assert.equal(res.statusCode, 500);
    assert.deepEqual(json(res), seedError(500, clock.now()));
    assert.equal(res.headers['x-hm-authorization'], undefined);
  });
});
