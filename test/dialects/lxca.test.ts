import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { ManualClock } from '../../src/ports/clock.js';
import { ADMIN_ROLES, addUser, harness, type Harness } from '../helpers.js';

/*
 * HTTP contract of the XClarity (LXCA) dialect against seed 004 (POST /sessions)
 * and API-NOTES.md (GET /sessions, DELETE /sessions, DELETE /sessions/{id}, csrf,
 * X-NOT-USER-INPUT: checkSession).
 */

const START = Date.UTC(2026, 10, 23, 9, 0, 0);
const MINUTE = 60_000;

/** The seed's 200 example body, verbatim. */
const SEED_SUCCESS = {
  response: {
    pwChangeRequired: false,
    session: {
      Address: '10.41.44.187',
      authenticationServer: '127.0.0.1',
      created: '2019-01-25T15:56:44Z',
      csrf: 'jbrnbSKznHM4ppOUMTDm-A5JcNNf46AXVNvX98lsRIvGc3Ryav3uTJUmTSP7-gPYacBtIrsEwjEs1IhSxU7_djeE3r_6--PKoa6_5Ois-m7LeMyzAepQaWz6U9W339wM5crBfEdfbecZkJid1cNi6zggAW5O5A0dKKmdlN1FThrbEh0BjfJvcloz0-YrLQxpN0yNbtNef7t-rxSqRpzIFz63Q40it1SjDg0Ldncy2Wxo6bhfC6xBRZBDzgjBgvD7z7sEjgOpvGWgXRYt6gGSlaqpYnHveb90yGfMW3y4Yp8WUp1OmSH8o3DA3qDfJBsYfQ17cJFHVPEgyQrONYFdZA',
      id: '19lee2n050duf10sew3a6l49gs',
      idleFor: '0',
      inactivityTimeout: '1440',
      lastAccessed: '2019-01-25T15:56:44Z',
      UserId: 'USERID',
    },
  },
  result: 'success',
  messages: [
    {
      explanation: '',
      id: 'FQXHMSE0001I',
      recovery: { text: 'Information only; no action is required.', URL: '' },
      text: 'The request completed successfully.',
    },
  ],
};

const SEED_MESSAGE = SEED_SUCCESS.messages[0]!;

/** DELETE /sessions success body, verbatim from API-NOTES.md. */
const NOTES_DELETE_SUCCESS =
  '{"result":"success","messages":[{"explanation":"","id":"FQXHMSE0001I","recovery":{"text":"Information only; no action is required.","URL":""},"text":"The request completed successfully."}]}';

const LIST_KEYS = ['Address', 'authenticationServer', 'created', 'id', 'idleFor', 'isOwnSession', 'lastAccessed', 'UserId'];
const MESSAGE_ID = /^FQXHM[A-Z]{2}\d{4}[A-Z]$/;
const ISO_SECONDS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

const ALICE = { username: 'alice', password: 'Alice-Pass-1', roles: ['Operator'] };
const BOB = { username: 'bob', password: 'Bob-Pass-12', roles: ['Operator'] };
const ROOT = { username: 'root-admin', password: 'Root-Pass-1', roles: ADMIN_ROLES };
const FRESH = { username: 'fresh', password: 'Fresh-Pass-1', roles: ['Operator'] };

interface Login {
  token: string;
  csrf: string;
  id: string;
  cookie: string;
  body: Record<string, any>;
}

function shape(v: unknown): unknown {
  if (Array.isArray(v)) return { array: v.map(shape) };
  if (v !== null && typeof v === 'object') return { object: Object.entries(v).map(([k, x]) => [k, shape(x)]) };
  return v === null ? 'null' : typeof v;
}

function json(res: LightMyRequestResponse): Record<string, any> {
  return JSON.parse(res.body) as Record<string, any>;
}

function iso(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

function setCookies(res: LightMyRequestResponse): string[] {
  const v = res.headers['set-cookie'];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** The Set-Cookie line of a cookie name, split into its value and lower-cased attributes. */
function cookieOf(res: LightMyRequestResponse, name: string): { value: string; attrs: string[] } | undefined {
  const line = setCookies(res).find((c) => c.startsWith(`${name}=`));
  if (!line) return undefined;
  const [pair, ...attrs] = line.split(';').map((s) => s.trim());
  return { value: decodeURIComponent(pair!.slice(name.length + 1)), attrs: attrs.map((a) => a.toLowerCase()) };
}

function assertFailure(res: LightMyRequestResponse, status: number) {
  assert.equal(res.statusCode, status, res.body);
  const body = json(res);
  assert.deepEqual(Object.keys(body), ['result', 'messages']);
  assert.equal(body.result, 'failure');
  assert.equal(body.messages.length, 1);
  const m = body.messages[0];
  assert.deepEqual(Object.keys(m), ['explanation', 'id', 'recovery', 'text']);
  assert.deepEqual(Object.keys(m.recovery), ['text', 'URL']);
  assert.match(m.id, MESSAGE_ID);
  for (const v of [m.explanation, m.recovery.text, m.recovery.URL, m.text]) assert.equal(typeof v, 'string');
  assert.ok(m.text.length > 0);
  return m as { explanation: string; id: string; recovery: { text: string; URL: string }; text: string };
}

async function login(h: Harness, user: { username: string; password: string }): Promise<Login> {
  const res = await h.app.inject({ method: 'POST', url: '/sessions', payload: { UserId: user.username, password: user.password } });
  assert.equal(res.statusCode, 200, res.body);
  const body = json(res);
  const token = cookieOf(res, 'JSESSIONID')!.value;
  const csrf = cookieOf(res, 'csrf')!.value;
  return { token, csrf, id: body.response.session.id, cookie: `JSESSIONID=${token}; csrf=${csrf}`, body };
}

function list(h: Harness, cookie: string, headers: Record<string, string> = {}) {
  return h.app.inject({ method: 'GET', url: '/sessions', headers: { cookie, ...headers } });
}

describe('LXCA POST /sessions (seed 004)', () => {
  let h: Harness;
  let clock: ManualClock;

  before(async () => {
    clock = new ManualClock(START);
    h = await harness({ clock });
    await addUser(h, ALICE.username, ALICE.password, ALICE.roles);
    await addUser(h, FRESH.username, FRESH.password, FRESH.roles, { mustChangePassword: true });
  });
  after(() => h.close());

  it('answers a login with 200 and exactly the seed body keys, in the seed order and types, at every level', async () => {
    const res = await h.app.inject({ method: 'POST', url: '/sessions', payload: { UserId: ALICE.username, password: ALICE.password } });
    assert.equal(res.statusCode, 200, res.body);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    assert.deepEqual(shape(json(res)), shape(SEED_SUCCESS));
  });

  it('fills the session object with the clock, the timeout and the account as strings', async () => {
    const { body } = await login(h, ALICE);
    const s = body.response.session;
    for (const [k, v] of Object.entries(s)) assert.equal(typeof v, 'string', `session.${k} is a string`);
    assert.equal(s.created, '2026-11-23T09:00:00Z');
    assert.equal(s.lastAccessed, '2026-11-23T09:00:00Z');
    assert.match(s.created, ISO_SECONDS);
    assert.equal(s.idleFor, '0');
    assert.equal(s.inactivityTimeout, '1440');
    assert.equal(s.authenticationServer, '127.0.0.1');
    assert.equal(s.Address, '127.0.0.1');
    assert.equal(s.UserId, ALICE.username);
    assert.ok(s.id.length > 0);
    assert.ok(s.csrf.length >= 22, 'csrf carries at least 128 bits');
  });

  it('answers result "success" with exactly the seed FQXHMSE0001I message', async () => {
    const { body } = await login(h, ALICE);
    assert.equal(body.result, 'success');
    const m = body.messages[0] as Record<string, any>;
    assert.deepEqual(Object.keys(m), ['explanation', 'id', 'recovery', 'text']);
    assert.deepEqual(Object.keys(m.recovery), ['text', 'URL']);
    assert.deepEqual(body.messages, [SEED_MESSAGE]);
  });

  it('reports pwChangeRequired from the account mustChangePassword flag', async () => {
    assert.equal((await login(h, ALICE)).body.response.pwChangeRequired, false);
    assert.equal((await login(h, FRESH)).body.response.pwChangeRequired, true);
  });

  it('sets the JSESSIONID session cookie HttpOnly, Secure, SameSite=Strict, Path=/ and a csrf cookie equal to the body csrf', async () => {
    const res = await h.app.inject({ method: 'POST', url: '/sessions', payload: { UserId: ALICE.username, password: ALICE.password } });
    const session = cookieOf(res, 'JSESSIONID');
    assert.ok(session, 'JSESSIONID cookie is set');
    assert.ok(session.attrs.includes('httponly'));
    assert.ok(session.attrs.includes('secure'));
    assert.ok(session.attrs.includes('samesite=strict'));
    assert.ok(session.attrs.includes('path=/'));
    assert.ok(!session.attrs.some((a) => a.startsWith('max-age=') || a.startsWith('expires=')), 'a session cookie, not a persistent one');
    const csrf = cookieOf(res, 'csrf');
    assert.ok(csrf, 'csrf cookie is set');
    assert.equal(csrf.value, json(res).response.session.csrf);
    assert.ok(csrf.attrs.includes('secure'));
    assert.ok(csrf.attrs.includes('samesite=strict'));
    assert.ok(csrf.attrs.includes('path=/'));
    assert.notEqual(session.value, csrf.value);
    assert.ok(!res.body.includes(session.value), 'the session token is not in the body');
    // The cookie is the credential.
    assert.equal((await list(h, `JSESSIONID=${session.value}`)).statusCode, 200);
  });

  it('gives a fresh session id, token and csrf at every login', async () => {
    const a = await login(h, ALICE);
    const b = await login(h, ALICE);
    assert.notEqual(a.token, b.token);
    assert.notEqual(a.csrf, b.csrf);
    assert.notEqual(a.id, b.id);
  });

  it('answers a wrong password with 403 (what Lenovo\'s clients read as bad credentials), result "failure" and FQXHMSE0101J, setting no cookie', async () => {
    const res = await h.app.inject({ method: 'POST', url: '/sessions', payload: { UserId: ALICE.username, password: 'Wrong-Pass-1' } });
    assertFailure(res, 403);
    assert.equal(JSON.parse(res.body).messages[0].id, 'FQXHMSE0101J');
    assert.deepEqual(setCookies(res), []);
  });

  it('answers an unknown user exactly as a wrong password', async () => {
    const wrong = await h.app.inject({ method: 'POST', url: '/sessions', payload: { UserId: ALICE.username, password: 'Wrong-Pass-1' } });
    const unknown = await h.app.inject({ method: 'POST', url: '/sessions', payload: { UserId: 'nobody-here', password: 'Wrong-Pass-1' } });
    assertFailure(unknown, 403);
    assert.equal(unknown.body, wrong.body);
  });

  it('answers a failed login with 401 instead when lxca.failedLoginStatus is 401, with the same body', async () => {
    const h401 = await harness({ overrides: { 'lxca.failedLoginStatus': 401 } });
    try {
      await addUser(h401, ALICE.username, ALICE.password, []);
      const res = await h401.app.inject({ method: 'POST', url: '/sessions', payload: { UserId: ALICE.username, password: 'Wrong-Pass-1' } });
      assertFailure(res, 401);
      const ref = await h.app.inject({ method: 'POST', url: '/sessions', payload: { UserId: ALICE.username, password: 'Wrong-Pass-1' } });
      assert.equal(res.body, ref.body);
    } finally {
      await h401.close();
    }
  });

  it('keeps 401 for a request without a live session (only the login\'s refusal is 403)', async () => {
    assertFailure(await h.app.inject({ method: 'GET', url: '/sessions' }), 401);
  });
});

describe('LXCA GET /sessions', () => {
  let h: Harness;
  let clock: ManualClock;
  let timeoutMs: number;

  before(async () => {
    clock = new ManualClock(START);
    h = await harness({ clock });
    timeoutMs = h.config.session.inactivityTimeoutMinutes * MINUTE;
    await addUser(h, ALICE.username, ALICE.password, ALICE.roles);
    await addUser(h, BOB.username, BOB.password, BOB.roles);
  });
  after(() => h.close());

  it('lists sessions with exactly Address, authenticationServer, created, id, idleFor, isOwnSession, lastAccessed, UserId and never a csrf', async () => {
    const me = await login(h, ALICE);
    const res = await list(h, me.cookie);
    assert.equal(res.statusCode, 200, res.body);
    const body = json(res);
    assert.deepEqual(Object.keys(body), ['response', 'result', 'messages']);
    assert.equal(body.result, 'success');
    assert.deepEqual(body.messages, [SEED_MESSAGE]);
    assert.ok(Array.isArray(body.response) && body.response.length > 0);
    for (const entry of body.response) {
      assert.deepEqual(Object.keys(entry), LIST_KEYS);
      for (const k of LIST_KEYS) assert.equal(typeof entry[k], k === 'isOwnSession' ? 'boolean' : 'string', k);
      assert.match(entry.created, ISO_SECONDS);
      assert.match(entry.lastAccessed, ISO_SECONDS);
      assert.match(entry.idleFor, /^\d+$/);
    }
    assert.ok(!res.body.includes(me.csrf), 'no csrf in the listing');
    assert.ok(!res.body.includes(me.token), 'no token in the listing');
  });

  it('marks only the caller own session with isOwnSession', async () => {
    const first = await login(h, ALICE);
    const second = await login(h, ALICE);
    const body = json(await list(h, second.cookie));
    const own = body.response.filter((e: any) => e.isOwnSession);
    assert.equal(own.length, 1);
    assert.equal(own[0].id, second.id);
    assert.equal(body.response.find((e: any) => e.id === first.id)?.isOwnSession, false);
  });

  it('answers a request without a session cookie, or with an unknown one, with 401 failure', async () => {
    assertFailure(await h.app.inject({ method: 'GET', url: '/sessions' }), 401);
    assertFailure(await list(h, 'JSESSIONID=garbage'), 401);
    assertFailure(await list(h, `JSESSIONID=${'A'.repeat(43)}`), 401);
  });

  it('reports idleFor and lastAccessed exact to the second: a checkSession poll does not renew, a normal request does', async () => {
    const me = await login(h, ALICE);
    const t0 = clock.now();
    clock.advance(90_000);
    const polled = json(await list(h, me.cookie, { 'X-NOT-USER-INPUT': 'checkSession' }));
    const p = polled.response.find((e: any) => e.id === me.id);
    assert.equal(p.idleFor, '90');
    assert.equal(p.lastAccessed, iso(t0));
    assert.equal(p.created, iso(t0));

    const renewed = json(await list(h, me.cookie));
    const r = renewed.response.find((e: any) => e.id === me.id);
    assert.equal(r.idleFor, '0');
    assert.equal(r.lastAccessed, iso(t0 + 90_000));
    assert.equal(r.created, iso(t0));

    clock.advance(5_000);
    const later = json(await list(h, me.cookie, { 'X-NOT-USER-INPUT': 'checkSession' }));
    const l = later.response.find((e: any) => e.id === me.id);
    assert.equal(l.idleFor, '5');
    assert.equal(l.lastAccessed, iso(t0 + 90_000));
  });

  it('never extends a session through checkSession polling: it ends at the inactivity timeout', async () => {
    const me = await login(h, ALICE);
    for (let i = 0; i < 4; i++) {
      clock.advance(5 * MINUTE);
      assert.equal((await list(h, me.cookie, { 'X-NOT-USER-INPUT': 'checkSession' })).statusCode, 200);
    }
    clock.advance(timeoutMs - 20 * MINUTE);
    assertFailure(await list(h, me.cookie, { 'X-NOT-USER-INPUT': 'checkSession' }), 401);
    assertFailure(await list(h, me.cookie), 401);
  });

  it('keeps a session alive while normal requests come within the inactivity timeout', async () => {
    const me = await login(h, ALICE);
    clock.advance(timeoutMs - MINUTE);
    assert.equal((await list(h, me.cookie)).statusCode, 200);
    clock.advance(timeoutMs - MINUTE);
    assert.equal((await list(h, me.cookie)).statusCode, 200);
  });

  it('shows a non-admin only its own user sessions', async () => {
    const a = await login(h, ALICE);
    const b = await login(h, BOB);
    const seenByAlice = json(await list(h, a.cookie)).response as any[];
    assert.ok(seenByAlice.length > 0);
    assert.ok(seenByAlice.every((e) => e.UserId === ALICE.username));
    assert.ok(!seenByAlice.some((e) => e.id === b.id));
    const seenByBob = json(await list(h, b.cookie)).response as any[];
    assert.ok(seenByBob.every((e) => e.UserId === BOB.username));
    assert.ok(seenByBob.some((e) => e.id === b.id));
  });
});

describe('LXCA DELETE /sessions and DELETE /sessions/{id}', () => {
  let h: Harness;
  let clock: ManualClock;

  before(async () => {
    clock = new ManualClock(START);
    h = await harness({ clock });
    await addUser(h, ALICE.username, ALICE.password, ALICE.roles);
    await addUser(h, BOB.username, BOB.password, BOB.roles);
    await addUser(h, ROOT.username, ROOT.password, ROOT.roles);
  });
  after(() => h.close());

  async function alive(id: string): Promise<boolean> {
    return (await h.p.sessions.listSessions()).some((s) => s.id === id);
  }

  it('refuses DELETE /sessions without X-Csrf-Token with 403 failure and keeps the session', async () => {
    const me = await login(h, ALICE);
    assertFailure(await h.app.inject({ method: 'DELETE', url: '/sessions', headers: { cookie: me.cookie } }), 403);
    assert.ok(await alive(me.id));
    assert.equal((await list(h, me.cookie)).statusCode, 200);
  });

  it('refuses DELETE /sessions with a wrong X-Csrf-Token with 403 failure', async () => {
    const me = await login(h, ALICE);
    const other = await login(h, ALICE);
    for (const token of ['wrong', other.csrf, me.csrf.slice(0, -1)]) {
      assertFailure(await h.app.inject({ method: 'DELETE', url: '/sessions', headers: { cookie: me.cookie, 'x-csrf-token': token } }), 403);
    }
    assert.ok(await alive(me.id));
  });

  it('logs out with DELETE /sessions and the right X-Csrf-Token, answering the API-NOTES success body; the session is gone', async () => {
    const me = await login(h, ALICE);
    const res = await h.app.inject({ method: 'DELETE', url: '/sessions', headers: { cookie: me.cookie, 'x-csrf-token': me.csrf } });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.body, NOTES_DELETE_SUCCESS);
    assert.deepEqual(json(res), JSON.parse(NOTES_DELETE_SUCCESS));
    const cleared = cookieOf(res, 'JSESSIONID');
    assert.ok(cleared && cleared.value === '' && cleared.attrs.includes('max-age=0'), 'the session cookie is cleared');
    assert.equal(await alive(me.id), false);
    assertFailure(await list(h, me.cookie), 401);
    assertFailure(await h.app.inject({ method: 'DELETE', url: '/sessions', headers: { cookie: me.cookie, 'x-csrf-token': me.csrf } }), 401);
  });

  it('answers DELETE /sessions/{id} for an unknown id with 404 failure', async () => {
    const me = await login(h, ROOT);
    const res = await h.app.inject({ method: 'DELETE', url: '/sessions/no-such-session-id', headers: { cookie: me.cookie, 'x-csrf-token': me.csrf } });
    assertFailure(res, 404);
  });

  it('refuses DELETE /sessions/{id} without X-Csrf-Token with 403 and keeps the target', async () => {
    const me = await login(h, ROOT);
    const target = await login(h, BOB);
    assertFailure(await h.app.inject({ method: 'DELETE', url: `/sessions/${target.id}`, headers: { cookie: me.cookie } }), 403);
    assert.ok(await alive(target.id));
  });

  it('refuses a non-admin who ends another user session with 403, and that session lives on', async () => {
    const me = await login(h, ALICE);
    const target = await login(h, BOB);
    const res = await h.app.inject({ method: 'DELETE', url: `/sessions/${target.id}`, headers: { cookie: me.cookie, 'x-csrf-token': me.csrf } });
    assertFailure(res, 403);
    assert.ok(await alive(target.id));
    assert.equal((await list(h, target.cookie)).statusCode, 200);
  });

  it('lets a user end another session of their own', async () => {
    const me = await login(h, ALICE);
    const mine = await login(h, ALICE);
    const res = await h.app.inject({ method: 'DELETE', url: `/sessions/${mine.id}`, headers: { cookie: me.cookie, 'x-csrf-token': me.csrf } });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(await alive(mine.id), false);
    assert.ok(await alive(me.id));
  });

  it('lets an admin end another user session with 200 and the success body; that session is gone', async () => {
    const admin = await login(h, ROOT);
    const target = await login(h, BOB);
    const res = await h.app.inject({ method: 'DELETE', url: `/sessions/${target.id}`, headers: { cookie: admin.cookie, 'x-csrf-token': admin.csrf } });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.body, NOTES_DELETE_SUCCESS);
    assert.equal(await alive(target.id), false);
    assertFailure(await list(h, target.cookie), 401);
    assert.equal((await list(h, admin.cookie)).statusCode, 200, 'the admin own session lives on');
  });

  it('shows an admin every user sessions', async () => {
    const a = await login(h, ALICE);
    const b = await login(h, BOB);
    const admin = await login(h, ROOT);
    const seen = json(await list(h, admin.cookie)).response as any[];
    const ids = new Set(seen.map((e) => e.id));
    assert.ok(ids.has(a.id) && ids.has(b.id) && ids.has(admin.id));
    assert.deepEqual(new Set(seen.map((e) => e.UserId)), new Set([ALICE.username, BOB.username, ROOT.username]));
    assert.equal(seen.filter((e) => e.isOwnSession).length, 1);
    const live = await h.p.sessions.listSessions();
    assert.equal(seen.length, live.length);
  });
});
