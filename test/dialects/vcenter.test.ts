import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { CoreError } from '../../src/core/errors.js';
import { ManualClock } from '../../src/ports/clock.js';
import { addUser, harness, type Harness } from '../helpers.js';

/*
 * Golden tests of the vCenter dialect against VMware's API reference:
 * - POST /api/session (Basic) → 201, the session id as a JSON string; GET → Session.Info
 *   {user, created_time, last_accessed_time}; DELETE → 204; errors
 *   {"error_type", "messages": [{id, default_message, args}], "challenge"?}.
 * - POST /rest/com/vmware/cis/session → 200 {"value": id}; POST ?~action=get (and GET) →
 *   {"value": Session.Info}; DELETE → 200; errors {"type": "com.vmware.vapi.std.errors.<t>", "value": {"messages"}}.
 */

const START = Date.UTC(2026, 10, 23, 9, 0, 0) + 456; // milliseconds, so the times must be exact
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;
const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const API = '/api/session';
const REST = '/rest/com/vmware/cis/session';

const ADMIN = { username: 'administrator', password: 'Vc-Admin-Pass-1', roles: ['System Administrator'] };
const AUDITOR = { username: 'auditor', password: 'Auditor-Pass-1', roles: ['Auditor'] };
const NEWBIE = { username: 'newbie', password: 'Newbie-Pass-1', roles: ['System Administrator'] };

/** vCenter's answer to any failed authentication, verbatim (it does not tell which part was wrong). */
const AUTH_REQUIRED = { id: 'com.vmware.vapi.endpoint.method.authentication.required', default_message: 'Authentication required.', args: [] };
const API_401 = { error_type: 'UNAUTHENTICATED', messages: [AUTH_REQUIRED], challenge: 'Basic realm="vCenter"' };
const REST_401 = { type: 'com.vmware.vapi.std.errors.unauthenticated', value: { messages: [AUTH_REQUIRED] } };

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
}

function json(res: LightMyRequestResponse): any {
  return JSON.parse(res.body);
}

/** An `/api` error: exact keys in order, every message a LocalizableMessage. */
function assertApiError(res: LightMyRequestResponse, status: number, type: string, id?: string): any {
  assert.equal(res.statusCode, status, res.body);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const body = json(res);
  assert.deepEqual(Object.keys(body), type === 'UNAUTHENTICATED' ? ['error_type', 'messages', 'challenge'] : ['error_type', 'messages']);
  assert.equal(body.error_type, type);
  assert.equal(body.messages.length, 1);
  assert.deepEqual(Object.keys(body.messages[0]), ['id', 'default_message', 'args']);
  assert.equal(typeof body.messages[0].id, 'string');
  assert.equal(typeof body.messages[0].default_message, 'string');
  assert.ok(body.messages[0].default_message.length > 0);
  assert.deepEqual(body.messages[0].args, []);
  if (id !== undefined) assert.equal(body.messages[0].id, id);
  assert.equal(res.headers['set-cookie'], undefined);
  return body;
}

/** A `/rest` error: `{"type", "value": {"messages"}}`. */
function assertRestError(res: LightMyRequestResponse, status: number, type: string, id?: string): any {
  assert.equal(res.statusCode, status, res.body);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const body = json(res);
  assert.deepEqual(Object.keys(body), ['type', 'value']);
  assert.equal(body.type, `com.vmware.vapi.std.errors.${type}`);
  assert.deepEqual(Object.keys(body.value), ['messages']);
  assert.deepEqual(Object.keys(body.value.messages[0]), ['id', 'default_message', 'args']);
  if (id !== undefined) assert.equal(body.value.messages[0].id, id);
  return body;
}

describe('vCenter dialect: /api/session', () => {
  let h: Harness;
  let clock: ManualClock;

  before(async () => {
    clock = new ManualClock(START);
    h = await harness({ clock, overrides: { 'vcenter.provider': 'local', 'vcenter.domains': { 'vsphere.local': 'local' } } });
    await addUser(h, ADMIN.username, ADMIN.password, ADMIN.roles);
    await addUser(h, AUDITOR.username, AUDITOR.password, AUDITOR.roles);
    await addUser(h, NEWBIE.username, NEWBIE.password, NEWBIE.roles, { mustChangePassword: true });
  });
  after(() => h.close());

  async function create(user = `${ADMIN.username}@vsphere.local`, password = ADMIN.password): Promise<string> {
    const res = await h.app.inject({ method: 'POST', url: API, headers: { authorization: basic(user, password) } });
    assert.equal(res.statusCode, 201, res.body);
    return JSON.parse(res.body) as string;
  }

  it('POST with HTTP Basic answers 201 with the session id as a JSON string, and sets no cookie', async () => {
    const res = await h.app.inject({ method: 'POST', url: API, headers: { authorization: basic('administrator@vsphere.local', ADMIN.password) } });
    assert.equal(res.statusCode, 201, res.body);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    assert.match(res.body, /^"[A-Za-z0-9_-]{43}"$/);
    assert.match(JSON.parse(res.body), TOKEN_SHAPE);
    assert.equal(res.headers['set-cookie'], undefined);
    assert.equal(res.headers['vmware-api-session-id'], undefined);
    assert.equal(res.headers['cache-control'], 'no-store');
  });

  it('accepts the user as vCenter users type it: user@domain, DOMAIN\\user and the bare name are one account', async () => {
    const before = (await h.p.sessions.listSessions({ username: ADMIN.username })).length;
    for (const typed of ['administrator@vsphere.local', 'VSPHERE.LOCAL\\administrator', 'administrator@VSphere.Local', 'administrator']) {
      const token = await create(typed);
      const s = await h.p.sessions.authenticate(token, false);
      assert.equal(s?.username, ADMIN.username, typed);
      assert.equal(s?.dialect, 'vcenter');
    }
    assert.equal((await h.p.sessions.listSessions({ username: ADMIN.username })).length, before + 4);
  });

  it('passes a name whose domain is not configured to the identity source as typed (here: unknown to the local accounts)', async () => {
    const res = await h.app.inject({ method: 'POST', url: API, headers: { authorization: basic('administrator@other.example', ADMIN.password) } });
    assert.deepEqual(assertApiError(res, 401, 'UNAUTHENTICATED'), API_401);
  });

  it('GET answers Session.Info: user fully qualified, created_time and last_accessed_time exact to the millisecond', async () => {
    clock.set(START);
    const token = await create('VSPHERE.LOCAL\\administrator');
    clock.advance(61_234);
    const res = await h.app.inject({ method: 'GET', url: API, headers: { 'vmware-api-session-id': token } });
    assert.equal(res.statusCode, 200, res.body);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    const body = json(res);
    assert.deepEqual(Object.keys(body), ['user', 'created_time', 'last_accessed_time']);
    assert.match(body.created_time, ISO_MS);
    assert.match(body.last_accessed_time, ISO_MS);
    assert.deepEqual(body, {
      user: 'administrator@vsphere.local',
      created_time: new Date(START).toISOString(),
      last_accessed_time: new Date(START + 61_234).toISOString(),
    });
  });

  it('GET does not renew the idle timer for X-NOT-USER-INPUT: checkSession polling', async () => {
    clock.set(START);
    const token = await create();
    clock.advance(5_000);
    const polled = json(await h.app.inject({ method: 'GET', url: API, headers: { 'vmware-api-session-id': token, 'x-not-user-input': 'checkSession' } }));
    assert.equal(polled.last_accessed_time, new Date(START).toISOString());
  });

  it('DELETE answers 204 with no body and ends the session everywhere', async () => {
    const token = await create();
    const res = await h.app.inject({ method: 'DELETE', url: API, headers: { 'vmware-api-session-id': token } });
    assert.equal(res.statusCode, 204);
    assert.equal(res.body, '');
    assert.equal(await h.p.sessions.authenticate(token, false), null);
    const again = await h.app.inject({ method: 'GET', url: API, headers: { 'vmware-api-session-id': token } });
    assert.deepEqual(assertApiError(again, 401, 'UNAUTHENTICATED'), API_401);
    const twice = await h.app.inject({ method: 'DELETE', url: API, headers: { 'vmware-api-session-id': token } });
    assert.deepEqual(assertApiError(twice, 401, 'UNAUTHENTICATED'), API_401);
  });

  it('DELETE with Content-Type: application/json and an empty body (as many clients send) is a plain logout', async () => {
    const token = await create();
    const res = await h.app.inject({ method: 'DELETE', url: API, headers: { 'vmware-api-session-id': token, 'content-type': 'application/json' }, payload: '' });
    assert.equal(res.statusCode, 204, res.body);
  });

  it('answers a wrong password, an unknown user and no credentials alike: 401 UNAUTHENTICATED with the challenge', async () => {
    const cases = [
      { authorization: basic('administrator@vsphere.local', 'wrong-password') },
      { authorization: basic('nobody@vsphere.local', 'wrong-password') },
      { authorization: 'Bearer abc' },
      { authorization: 'Basic !!!' },
      {},
    ];
    for (const headers of cases) {
      const res = await h.app.inject({ method: 'POST', url: API, headers });
      assert.deepEqual(assertApiError(res, 401, 'UNAUTHENTICATED', AUTH_REQUIRED.id), API_401, JSON.stringify(headers));
      assert.equal(res.headers['www-authenticate'], 'Basic realm="vCenter"');
    }
  });

  it('answers a missing, malformed, unknown or expired session id with 401 UNAUTHENTICATED', async () => {
    const token = await create();
    clock.advance(h.config.session.inactivityTimeoutMinutes * 60_000);
    for (const headers of [{}, { 'vmware-api-session-id': 'garbage' }, { 'vmware-api-session-id': 'A'.repeat(43) }, { 'vmware-api-session-id': token }]) {
      const res = await h.app.inject({ method: 'GET', url: API, headers });
      assert.deepEqual(assertApiError(res, 401, 'UNAUTHENTICATED'), API_401);
    }
  });

  it('refuses an authenticated user without an allowed role: 403 UNAUTHORIZED, no session made', async () => {
    const before = (await h.p.sessions.listSessions({ username: AUDITOR.username })).length;
    const res = await h.app.inject({ method: 'POST', url: API, headers: { authorization: basic(AUDITOR.username, AUDITOR.password) } });
    assertApiError(res, 403, 'UNAUTHORIZED', 'com.vmware.portcullis.unauthorized');
    assert.equal((await h.p.sessions.listSessions({ username: AUDITOR.username })).length, before);
  });

  it('lets a user who must change the password log in and out, and refuses anything else with 403 UNAUTHORIZED', async () => {
    const token = await create(NEWBIE.username, NEWBIE.password);
    const get = await h.app.inject({ method: 'GET', url: API, headers: { 'vmware-api-session-id': token } });
    const body = assertApiError(get, 403, 'UNAUTHORIZED', 'com.vmware.portcullis.password.change.required');
    assert.match(body.messages[0].default_message, /password must be changed/);
    const del = await h.app.inject({ method: 'DELETE', url: API, headers: { 'vmware-api-session-id': token } });
    assert.equal(del.statusCode, 204);
  });

  it('answers a password or user name that cannot be checked with 400 INVALID_ARGUMENT naming the problem', async () => {
    const res = await h.app.inject({ method: 'POST', url: API, headers: { authorization: basic('administrator', '') } });
    const body = assertApiError(res, 400, 'INVALID_ARGUMENT');
    assert.match(body.messages[0].default_message, /password must not be empty/);
  });

  it('takes no input on POST: no body, an empty body or {} are fine; any other body is 400 INVALID_ARGUMENT naming it', async () => {
    const auth = basic(ADMIN.username, ADMIN.password);
    for (const payload of [undefined, '', '{}']) {
      const res = await h.app.inject({ method: 'POST', url: API, headers: { authorization: auth, 'content-type': 'application/json' }, ...(payload !== undefined && { payload }) });
      assert.equal(res.statusCode, 201, `${String(payload)}: ${res.body}`);
    }
    const field = await h.app.inject({ method: 'POST', url: API, headers: { authorization: auth, 'content-type': 'application/json' }, payload: '{"username":"x"}' });
    assert.match(assertApiError(field, 400, 'INVALID_ARGUMENT').messages[0].default_message, /unknown field "username"/);
    for (const payload of ['[]', '"x"', '1', 'null']) {
      const res = await h.app.inject({ method: 'POST', url: API, headers: { authorization: auth, 'content-type': 'application/json' }, payload });
      assertApiError(res, 400, 'INVALID_ARGUMENT');
    }
  });

  it('answers unknown paths below /api/session in its own envelope, and leaves /api/admin to HCX', async () => {
    assertApiError(await h.app.inject({ method: 'GET', url: '/api/session/extra' }), 404, 'NOT_FOUND', 'com.vmware.vapi.rest.httpNotFound');
    const put = await h.app.inject({ method: 'PUT', url: API });
    assertApiError(put, 405, 'OPERATION_NOT_FOUND');
    assert.equal(put.headers.allow, 'GET, HEAD, POST, DELETE');
    const hcx = await h.app.inject({ method: 'GET', url: '/api/admin/v1/sessions' });
    assert.equal(hcx.statusCode, 401);
    assert.equal(json(hcx).errorCode, 'INVALID_SESSION_TOKEN');
  });

  it('answers transport failures in the vAPI envelope: malformed JSON 400, 413, 415, 431', async () => {
    const auth = basic(ADMIN.username, ADMIN.password);
    const bad = await h.app.inject({ method: 'POST', url: API, headers: { authorization: auth, 'content-type': 'application/json' }, payload: '{"a":' });
    assert.match(assertApiError(bad, 400, 'INVALID_ARGUMENT').messages[0].default_message, /not valid JSON/);
    const big = await h.app.inject({ method: 'POST', url: API, headers: { authorization: auth, 'content-type': 'application/json' }, payload: JSON.stringify({ x: 'y'.repeat(h.config.http.bodyLimitBytes) }) });
    assertApiError(big, 413, 'INVALID_REQUEST');
    const text = await h.app.inject({ method: 'POST', url: API, headers: { authorization: auth, 'content-type': 'text/plain' }, payload: 'hello' });
    assertApiError(text, 415, 'INVALID_REQUEST');
    const head = await h.app.inject({ method: 'GET', url: API, headers: { 'x-filler': 'z'.repeat(h.config.http.maxHeaderBytes) } });
    assertApiError(head, 431, 'INVALID_REQUEST');
  });

  it('refuses a login beyond MaxConcurrentSessions with 403 UNAUTHORIZED naming the limit', async () => {
    const h2 = await harness({ overrides: { 'vcenter.provider': 'local', 'accountSettings.MaxConcurrentSessions': 1 } });
    try {
      await addUser(h2, ADMIN.username, ADMIN.password, ADMIN.roles);
      const auth = { authorization: basic(ADMIN.username, ADMIN.password) };
      assert.equal((await h2.app.inject({ method: 'POST', url: API, headers: auth })).statusCode, 201);
      const res = await h2.app.inject({ method: 'POST', url: API, headers: auth });
      const body = assertApiError(res, 403, 'UNAUTHORIZED', 'com.vmware.portcullis.session.limit');
      assert.match(body.messages[0].default_message, /\(1\)/);
    } finally {
      await h2.close();
    }
  });

  it('never logs a password, a session id or its hash (after every call above)', async () => {
    const token = await create();
    await h.app.inject({ method: 'GET', url: API, headers: { 'vmware-api-session-id': token } });
    await h.app.inject({ method: 'DELETE', url: API, headers: { 'vmware-api-session-id': token } });
    await h.app.inject({ method: 'POST', url: API, headers: { authorization: basic(ADMIN.username, 'Wrong-Secret-7') } });
    const text = h.logger.text();
    assert.match(text, /"dialect":"vcenter"/, 'the vCenter logins are logged');
    for (const secret of [ADMIN.password, NEWBIE.password, 'Wrong-Secret-7', token, Buffer.from(`${ADMIN.username}:${ADMIN.password}`).toString('base64')]) {
      assert.ok(!text.includes(secret), `a secret is in the log: ${secret.slice(0, 4)}…`);
    }
    const s = (await h.p.sessions.listSessions({ username: ADMIN.username }))[0]!;
    assert.ok(!text.includes(s.tokenHash.toString('hex')) && !text.includes(s.tokenHash.toString('base64')), 'no token hash in the log');
  });

  it('uses the directory by default: with none configured a login is 503 SERVICE_UNAVAILABLE, not a 500', async () => {
    const h2 = await harness();
    try {
      await addUser(h2, ADMIN.username, ADMIN.password, ADMIN.roles);
      const res = await h2.app.inject({ method: 'POST', url: API, headers: { authorization: basic('administrator@vsphere.local', ADMIN.password) } });
      const body = assertApiError(res, 503, 'SERVICE_UNAVAILABLE', 'com.vmware.portcullis.identity.unavailable');
      assert.doesNotMatch(JSON.stringify(body), /ldap|127\.0\.0\.1|stack/i);
    } finally {
      await h2.close();
    }
  });
});

describe('vCenter dialect: /rest/com/vmware/cis/session', () => {
  let h: Harness;
  let clock: ManualClock;

  before(async () => {
    clock = new ManualClock(START);
    h = await harness({ clock, overrides: { 'vcenter.provider': 'local', 'vcenter.domains': { 'vsphere.local': 'local' } } });
    await addUser(h, ADMIN.username, ADMIN.password, ADMIN.roles);
  });
  after(() => h.close());

  /** What govmomi's vapi/rest client sends: POST, Content-Type and Accept application/json, an empty body, vmware-use-header-authn. */
  async function create(): Promise<string> {
    const res = await h.app.inject({
      method: 'POST',
      url: REST,
      headers: { authorization: basic('administrator@vsphere.local', ADMIN.password), 'content-type': 'application/json', accept: 'application/json', 'vmware-use-header-authn': 'true' },
      payload: '',
    });
    assert.equal(res.statusCode, 200, res.body);
    const body = json(res);
    assert.deepEqual(Object.keys(body), ['value']);
    assert.match(body.value, TOKEN_SHAPE);
    assert.equal(res.headers['set-cookie'], undefined);
    return body.value as string;
  }

  it('POST answers 200 {"value": "<session id>"}', async () => {
    await create();
  });

  it('POST ?~action=get and GET answer {"value": Session.Info}', async () => {
    clock.set(START);
    const token = await create();
    clock.advance(1_001);
    for (const req of [
      { method: 'POST' as const, url: `${REST}?~action=get`, headers: { 'vmware-api-session-id': token, 'content-type': 'application/json' }, payload: '' },
      { method: 'GET' as const, url: REST, headers: { 'vmware-api-session-id': token } },
    ]) {
      const res = await h.app.inject(req);
      assert.equal(res.statusCode, 200, res.body);
      const body = json(res);
      assert.deepEqual(Object.keys(body), ['value']);
      assert.deepEqual(Object.keys(body.value), ['user', 'created_time', 'last_accessed_time']);
      assert.deepEqual(body.value, {
        user: 'administrator@vsphere.local',
        created_time: new Date(START).toISOString(),
        last_accessed_time: new Date(START + 1_001).toISOString(),
      });
    }
  });

  it('DELETE answers 200 with no body; the session is gone', async () => {
    const token = await create();
    const res = await h.app.inject({ method: 'DELETE', url: REST, headers: { 'vmware-api-session-id': token } });
    assert.equal(res.statusCode, 200);
    assert.equal(res.body, '');
    const get = await h.app.inject({ method: 'POST', url: `${REST}?~action=get`, headers: { 'vmware-api-session-id': token } });
    assert.deepEqual(assertRestError(get, 401, 'unauthenticated'), REST_401);
  });

  it('answers failed logins and unknown sessions in the /rest envelope, verbatim vCenter', async () => {
    const wrong = await h.app.inject({ method: 'POST', url: REST, headers: { authorization: basic('administrator@vsphere.local', 'nope-nope') } });
    assert.deepEqual(assertRestError(wrong, 401, 'unauthenticated'), REST_401);
    assert.equal(wrong.headers['www-authenticate'], 'Basic realm="vCenter"');
    const none = await h.app.inject({ method: 'POST', url: REST });
    assert.deepEqual(assertRestError(none, 401, 'unauthenticated'), REST_401);
    const get = await h.app.inject({ method: 'GET', url: REST, headers: { 'vmware-api-session-id': 'x'.repeat(43) } });
    assert.deepEqual(assertRestError(get, 401, 'unauthenticated'), REST_401);
  });

  it('answers an unknown ~action, an unknown query parameter and an unknown /rest path in the /rest envelope', async () => {
    assertRestError(await h.app.inject({ method: 'POST', url: `${REST}?~action=refresh` }), 404, 'not_found');
    assertRestError(await h.app.inject({ method: 'POST', url: `${REST}?~action=get&~action=get` }), 400, 'invalid_argument');
    assertRestError(await h.app.inject({ method: 'POST', url: `${REST}?other=1` }), 400, 'invalid_argument');
    assertRestError(await h.app.inject({ method: 'GET', url: '/rest/vcenter/vm' }), 404, 'not_found', 'com.vmware.vapi.rest.httpNotFound');
    assertRestError(await h.app.inject({ method: 'PATCH', url: REST }), 405, 'operation_not_found');
  });
});

describe('vCenter configuration', () => {
  it('reads vcenter.provider from PORTCULLIS_VCENTER_PROVIDER, a list as the chain of its names', async () => {
    const { loadConfig } = await import('../../src/config.js');
    assert.equal(loadConfig({ env: { PORTCULLIS_VCENTER_PROVIDER: 'local' } }).vcenter.provider, 'local');
    assert.equal(loadConfig({ env: { PORTCULLIS_VCENTER_PROVIDER: '[local, ldap]' } }).vcenter.provider, 'local,ldap');
    const d = loadConfig({ env: {} }).vcenter;
    assert.deepEqual({ provider: d.provider, domains: d.domains, enabled: d.enabled }, { provider: 'ldap', domains: {}, enabled: true });
    assert.deepEqual(loadConfig({ env: {}, overrides: { 'vcenter.domains': { 'corp.example': ['local', 'ldap'] } } }).vcenter.domains, { 'corp.example': 'local,ldap' });
  });

  it('rejects a bad domain, a domain listed twice in two cases and an unknown key, naming the key', async () => {
    const { loadConfig, ConfigError } = await import('../../src/config.js');
    assert.throws(() => loadConfig({ env: {}, overrides: { 'vcenter.domains': { 'bad domain!': 'local' } } }), (e: Error) => e instanceof ConfigError && /vcenter\.domains/.test(e.message));
    assert.throws(() => loadConfig({ env: {}, overrides: { 'vcenter.domains': { 'vsphere.local': 'local', 'VSPHERE.LOCAL': 'ldap' } } }), /vcenter\.domains: must not list a domain twice/);
    assert.throws(() => loadConfig({ env: {}, overrides: { 'vcenter.domains': ['vsphere.local'] } }), /vcenter\.domains/, 'a list is identity.domains\' job');
    assert.throws(() => loadConfig({ env: {}, overrides: { 'vcenter.cookie': true } }), /vcenter/);
  });

  it('serves no vCenter path when vcenter.enabled is false (the paths fall to the fallback dialect as unknown)', async () => {
    const h = await harness({ overrides: { 'vcenter.enabled': false } });
    try {
      const res = await h.app.inject({ method: 'POST', url: API, headers: { authorization: basic('a', 'b') } });
      assert.equal(res.statusCode, 404);
      assert.equal(JSON.parse(res.body).error_type, undefined);
    } finally {
      await h.close();
    }
  });
});

describe('vCenter: busy and unavailable (503 SERVICE_UNAVAILABLE + Retry-After), in both envelopes', () => {
  let h: Harness;
  let token: string;
  const restore: (() => void)[] = [];
  /** Replaces a method of one object until the end of the test. */
  function replace<T extends object, K extends keyof T>(obj: T, key: K, fn: T[K]) {
    const had = Object.hasOwn(obj, key);
    const original = obj[key];
    obj[key] = fn;
    restore.push(() => {
      if (had) obj[key] = original;
      else delete obj[key];
    });
  }
  const DETAIL = 'connect ECONNREFUSED 10.9.8.7:5432';

  before(async () => {
    h = await harness({ overrides: { 'vcenter.provider': 'local' } });
    await addUser(h, ADMIN.username, ADMIN.password, ADMIN.roles);
    const res = await h.app.inject({ method: 'POST', url: API, headers: { authorization: basic(ADMIN.username, ADMIN.password) } });
    token = JSON.parse(res.body) as string;
  });
  after(async () => {
    for (const r of restore.splice(0).reverse()) r();
    await h.close();
  });

  function assertRetry(res: LightMyRequestResponse, seconds: string, rest: boolean) {
    const body = rest ? assertRestError(res, 503, 'service_unavailable') : assertApiError(res, 503, 'SERVICE_UNAVAILABLE');
    assert.equal(res.headers['retry-after'], seconds);
    assert.ok(!res.body.includes('ECONNREFUSED') && !res.body.includes('10.9.8.7'), 'no adapter detail');
    return body;
  }

  it('a login refused by the hashing admission is busy: Retry-After 1, nothing stored, no failure counted', async () => {
    const before = (await h.p.sessions.listSessions()).length;
    replace(h.p.local, 'authenticate', () => Promise.reject(new CoreError('busy')));
    const api = assertRetry(await h.app.inject({ method: 'POST', url: API, headers: { authorization: basic(ADMIN.username, ADMIN.password) } }), '1', false);
    assert.equal(api.messages[0].id, 'com.vmware.portcullis.busy');
    assertRetry(await h.app.inject({ method: 'POST', url: REST, headers: { authorization: basic(ADMIN.username, ADMIN.password) } }), '1', true);
    for (const r of restore.splice(0).reverse()) r();
    assert.equal((await h.p.sessions.listSessions()).length, before);
    assert.equal((await h.app.inject({ method: 'POST', url: API, headers: { authorization: basic(ADMIN.username, ADMIN.password) } })).statusCode, 201);
  });

  it('a check while the session store is down is unavailable: Retry-After 2; the session works again afterwards', async () => {
    replace(h.p.store, 'findSessionByTokenHash', () => Promise.reject(new CoreError('unavailable', `session store: ${DETAIL}`)));
    replace(h.p.store, 'cachedSession', () => undefined); // a store that is down answers nothing from its memory either
    const api = assertRetry(await h.app.inject({ method: 'GET', url: API, headers: { 'vmware-api-session-id': token } }), '2', false);
    assert.equal(api.messages[0].id, 'com.vmware.portcullis.unavailable');
    assertRetry(await h.app.inject({ method: 'POST', url: `${REST}?~action=get`, headers: { 'vmware-api-session-id': token } }), '2', true);
    for (const r of restore.splice(0).reverse()) r();
    assert.equal((await h.app.inject({ method: 'GET', url: API, headers: { 'vmware-api-session-id': token } })).statusCode, 200);
  });
});

describe('vCenter user names (names.ts)', () => {
  it('splits user@domain at the last @ and DOMAIN\\user at the first backslash', async () => {
    const { splitDomain } = await import('../../src/dialects/vcenter/names.js');
    assert.deepEqual(splitDomain('a@b@vsphere.local'), { user: 'a@b', domain: 'vsphere.local' });
    assert.deepEqual(splitDomain('CORP\\a\\b'), { user: 'a\\b', domain: 'CORP' });
    assert.deepEqual(splitDomain('@vsphere.local'), { user: '@vsphere.local', domain: '' });
    assert.deepEqual(splitDomain('plain'), { user: 'plain', domain: '' });
  });

  it('routes a listed domain (ignoring case) to its source without the domain, anything else as typed to the fallback', async () => {
    const { mapUsername } = await import('../../src/dialects/vcenter/names.js');
    const domains = { 'vsphere.local': 'local', 'corp.example': 'ldap' };
    assert.deepEqual(mapUsername('VSPHERE.LOCAL\\admin', 'ldap', domains), { provider: 'local', username: 'admin' });
    assert.deepEqual(mapUsername('bob@Corp.Example', 'local', domains), { provider: 'ldap', username: 'bob' });
    assert.deepEqual(mapUsername('bob@other.example', 'ldap', domains), { provider: 'ldap', username: 'bob@other.example' });
    assert.deepEqual(mapUsername('bob', 'ldap', domains), { provider: 'ldap', username: 'bob' });
  });

  it('shows a name fully qualified by its source\'s domain, a source-qualified identity under that domain, others as stored', async () => {
    const { domainDisplay } = await import('../../src/dialects/vcenter/names.js');
    const show = domainDisplay({ 'vsphere.local': 'local,ldap', 'corp.example': 'ldap' });
    assert.equal(show('admin', 'local'), 'admin@vsphere.local');
    assert.equal(show('alice', 'ldap'), 'alice@vsphere.local', 'the first domain whose source it is');
    assert.equal(show('ldap:alice', 'ldap'), 'alice@vsphere.local');
    assert.equal(show('pam:root', 'pam'), 'pam:root', 'no domain for pam');
    assert.equal(show('bob@corp.example', 'ldap'), 'bob@corp.example');
    assert.equal(show('CORP\\bob', 'ldap'), 'CORP\\bob');
  });
});
