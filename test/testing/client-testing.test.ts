import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import type { FastifyInstance } from "fastify";
import { loadConfig, ConfigError } from '../../src/config.js';
import { replay } from '../../src/cli/testing.js';
import { newControlToken } from '../../src/testing/http.js';
import { Recorder } from '../../src/testing/recorder.js';
import { parseScenario, ScenarioError } from '../../src/testing/scenario.js';
import { createApp } from '../../src/server.js';
import { ADMIN_ROLES, addUser, harness, tempDir, type Harness } from '../helpers.js';
import { rawRequest } from '../dialects/contract.js';

const ADMIN = { username: 'ct-admin', password: 'Ct-Admin-Pass-1' };
const ALICE = { username: 'alice', password: 'Alice-Pass-1234' };
const BOB = { username: 'bob', password: 'Bob-Pass-123456' };
const T = '/portcullis/api/v1/testing';

async function hcxLogin(h: Harness, u: { username: string; password: string }): Promise<string> {
  const res = await h.app.inject({ method: 'POST', url: '/api/admin/v1/sessions', payload: u });
  assert.equal(res.statusCode, 200, res.body);
  return String(res.headers['x-hm-authorization']);
}
const hcxCheck = (h: Harness, token: string, app: FastifyInstance = h.app) => app.inject({ method: 'GET', url: '/api/admin/v1/sessions', headers: { 'x-hm-authorization': token } });
const lxcaCheck = (h: Harness, token: string, poll = false) =>
  h.app.inject({ method: 'GET', url: '/sessions', headers: { cookie: `JSESSIONID=${token}`, ...(poll && { 'x-not-user-input': 'checkSession' }) } });

describe('client-testing mode is off by default', () => {
  it('has no control routes: 404 in the admin envelope, and the fast path serves checks', async () => {
    const h = await harness();
    try {
      await addUser(h, ADMIN.username, ADMIN.password, ADMIN_ROLES);
      const token = await hcxLogin(h, ADMIN);
      const res = await h.app.inject({ method: 'GET', url: `${T}/faults`, headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.statusCode, 404);
      assert.equal(res.json().error.code, 'no_route');
      assert.equal(h.p.testing, undefined);
    } finally {
      await h.close();
    }
  });

  it('cannot be turned on with a public listen address by accident', () => {
    assert.throws(() => loadConfig({ env: {}, overrides: { 'clientTesting.enabled': true, 'listen.host': '0.0.0.0' } }), (e: unknown) => e instanceof ConfigError && /clientTesting\.enabled/.test(e.message) && /allowRemote/.test(e.message));
    assert.throws(() => loadConfig({ env: { PORTCULLIS_CLIENT_TESTING: 'true', PORTCULLIS_HOST: '10.1.2.3' } }), ConfigError);
    assert.equal(loadConfig({ env: {}, overrides: { 'clientTesting.enabled': true, 'clientTesting.allowRemote': true, 'listen.host': '0.0.0.0' } }).clientTesting.enabled, true);
    for (const host of ['127.0.0.1', '::1', 'localhost', '127.5.6.7']) {
      assert.equal(loadConfig({ env: {}, overrides: { 'clientTesting.enabled': true, 'listen.host': host } }).clientTesting.enabled, true, host);
    }
  });
});

describe('client-testing mode', () => {
  let h: Harness;
  let admin: string;
  const auth = () => ({ authorization: `Bearer ${admin}` });
  const addFault = async (rule: object) => {
    const res = await h.app.inject({ method: 'POST', url: `${T}/faults`, headers: auth(), payload: rule });
    assert.equal(res.statusCode, 201, res.body);
    return res.json().fault as { id: string };
  };
  const control = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, payload?: object) =>
    h.app.inject({ method, url: `${T}${path}`, headers: auth(), ...(payload !== undefined && { payload }) });

  before(async () => {
    h = await harness({ overrides: { 'clientTesting.enabled': true } });
    await addUser(h, ADMIN.username, ADMIN.password, ADMIN_ROLES);
    await addUser(h, ALICE.username, ALICE.password, ADMIN_ROLES);
    await addUser(h, BOB.username, BOB.password, ADMIN_ROLES);
    admin = await hcxLogin(h, ADMIN);
  });
  afterEach(async () => {
    await control('DELETE', '/faults');
    await control('PUT', '/clock', { offsetMs: 0 });
  });
  after(() => h.close());

  it('refuses controls without an administrator (401 / 403 in the admin envelope)', async () => {
    assert.equal((await h.app.inject({ method: 'GET', url: `${T}/faults` })).statusCode, 401);
    const bobNoAdmin = await harness({ overrides: { 'clientTesting.enabled': true } });
    try {
      await addUser(bobNoAdmin, 'plain', 'Plain-User-Pass-1', ['Operator']);
      const r = await bobNoAdmin.p.sessions.login({ provider: 'local', username: 'plain', password: 'Plain-User-Pass-1', requiredRoles: 'any' }, { requestId: 'x', clientAddress: '127.0.0.1', dialect: 'admin' });
      assert.equal(r.kind, 'ok');
      const res = await bobNoAdmin.app.inject({ method: 'GET', url: `${T}/faults`, headers: { authorization: `Bearer ${r.kind === 'ok' ? r.token : ''}` } });
      assert.equal(res.statusCode, 403);
      assert.equal(res.json().error.code, 'forbidden');
    } finally {
      await bobNoAdmin.close();
    }
  });

  it('a rule fires exactly its count, is listed with how often it fired, then vanishes', async () => {
    const token = await hcxLogin(h, ALICE);
    const rule = await addFault({ match: { dialect: 'hcx', op: 'check' }, effect: { status: 500 }, count: 2 });
    const first = await hcxCheck(h, token);
    assert.equal(first.statusCode, 500);
    const listed = (await control('GET', '/faults')).json().faults as { id: string; fired: number }[];
    assert.deepEqual(listed.map((r) => [r.id, r.fired]), [[rule.id, 1]]);
    assert.equal((await hcxCheck(h, token)).statusCode, 500);
    assert.deepEqual((await control('GET', '/faults')).json().faults, [], 'spent');
    assert.equal((await hcxCheck(h, token)).statusCode, 200);
  });

  it('answers with the dialect\'s own body for the status: HCX 500 INTERNAL_SERVER_ERROR, XClarity 503 FQXHMSE0118J + Retry-After, admin 404', async () => {
    const token = await hcxLogin(h, ALICE);
    const renderers = Object.fromEntries(['hcx', 'lxca', 'admin'].map((n) => [n, (url: string) => h.app.rendererFor({ url, routeOptions: { config: { dialect: n } } } as never)]));
    await addFault({ match: { dialect: 'hcx' }, effect: { status: 500 }, count: 1 });
    const hcx = await hcxCheck(h, token);
    const want = renderers.hcx!('/api/admin/v1/sessions').render({ code: 'internal', status: 500 }, undefined);
    assert.equal(hcx.statusCode, 500);
    assert.deepEqual({ ...(hcx.json() as Record<string, unknown>), time: 0 }, { ...(want.body as Record<string, unknown>), time: 0 });
    assert.equal(hcx.json().errorCode, 'INTERNAL_SERVER_ERROR');

    await addFault({ match: { dialect: 'lxca', op: 'list' }, effect: { status: 503 }, count: 1 });
    const lxca = await lxcaCheck(h, token);
    assert.equal(lxca.statusCode, 503);
    assert.equal(lxca.headers['retry-after'], '2');
    assert.equal(lxca.body, JSON.stringify(renderers.lxca!('/sessions').render({ code: 'unavailable', status: 503 }, undefined).body));
    assert.equal(lxca.json().messages[0].id, 'FQXHMSE0118J');

    await addFault({ match: { dialect: 'admin', path: '/portcullis/api/v1/sessions' }, effect: { error: 'not_found' }, count: 1 });
    const adm = await h.app.inject({ method: 'GET', url: '/portcullis/api/v1/sessions', headers: { authorization: `Bearer ${token}` } });
    assert.equal(adm.statusCode, 404);
    assert.deepEqual(Object.keys(adm.json()), ['error']);
  });

  it('a core error effect is rendered as that dialect renders it (directory down: HCX "Exception while performing auth", XClarity FQXHMSE0107J)', async () => {
    await addFault({ match: { op: 'login' }, effect: { error: 'identity_unavailable' }, count: 2 });
    const hcx = await h.app.inject({ method: 'POST', url: '/api/admin/v1/sessions', payload: ALICE });
    assert.equal(hcx.statusCode, 500);
    assert.equal(hcx.json().error, 'Exception while performing auth');
    const lxca = await h.app.inject({ method: 'POST', url: '/sessions', payload: { UserId: ALICE.username, password: ALICE.password } });
    assert.equal(lxca.json().messages[0].id, 'FQXHMSE0107J');
    assert.equal((await h.app.inject({ method: 'POST', url: '/sessions', payload: { UserId: ALICE.username, password: ALICE.password } })).statusCode, 200);
  });

  it('matches by user (the session\'s, or the login\'s), by method and by path', async () => {
    const a = await hcxLogin(h, ALICE);
    const b = await hcxLogin(h, BOB);
    await addFault({ match: { user: 'alice' }, effect: { status: 403 } });
    assert.equal((await hcxCheck(h, a)).statusCode, 403);
    assert.equal((await hcxCheck(h, b)).statusCode, 200);
    assert.equal((await h.app.inject({ method: 'POST', url: '/sessions', payload: { UserId: 'alice', password: ALICE.password } })).statusCode, 403);
    assert.equal((await h.app.inject({ method: 'POST', url: '/sessions', payload: { UserId: 'bob', password: BOB.password } })).statusCode, 200);
    await control('DELETE', '/faults');
    await addFault({ match: { method: 'DELETE', path: '/sessions/:id' }, effect: { status: 409 }, count: 1 });
    const jar = await h.app.inject({ method: 'POST', url: '/sessions', payload: { UserId: 'bob', password: BOB.password } });
    const sid = jar.json().response.session.id;
    const del = await h.app.inject({ method: 'DELETE', url: `/sessions/${sid}`, headers: { cookie: `JSESSIONID=${b}`, 'x-csrf-token': 'irrelevant' } });
    assert.equal(del.statusCode, 409);
  });

  it('delays, and rules that start later or end after their window', async () => {
    const token = await hcxLogin(h, ALICE);
    await addFault({ match: { op: 'check' }, effect: { delayMs: 300 }, count: 1 });
    const t0 = performance.now();
    assert.equal((await hcxCheck(h, token)).statusCode, 200, 'a delay alone lets the request through');
    assert.ok(performance.now() - t0 >= 290);
    await addFault({ match: { op: 'check' }, effect: { status: 500 }, afterSeconds: 0.3, forSeconds: 0.3 });
    assert.equal((await hcxCheck(h, token)).statusCode, 200, 'not started yet');
    await new Promise((r) => setTimeout(r, 350));
    assert.equal((await hcxCheck(h, token)).statusCode, 500, 'in its window');
    await new Promise((r) => setTimeout(r, 350));
    assert.equal((await hcxCheck(h, token)).statusCode, 200, 'window over');
    assert.deepEqual((await control('GET', '/faults')).json().faults, []);
  });

  it('refuses invalid rules with 400 naming the problem', async () => {
    for (const [rule, words] of [
      [{ match: { op: 'nope' }, effect: { status: 500 } }, 'op'],
      [{ effect: { status: 200 } }, 'status'],
      [{ effect: {} }, 'effect'],
      [{ effect: { status: 500, drop: true } }, 'one of'],
      [{ effect: { status: 500 }, extra: 1 }, 'extra'],
    ] as const) {
      const res = await control('POST', '/faults', rule);
      assert.equal(res.statusCode, 400, res.body);
      assert.match(res.json().error.message, new RegExp(words));
    }
  });

  it('the clock offset expires a session at exactly the idle boundary', async () => {
    const token = await hcxLogin(h, ALICE);
    const idleMs = (await h.p.settings.get()).InactivityTimeout * 60_000;
    assert.ok(idleMs > 0);
    assert.equal((await control('PUT', '/clock', { offsetMs: idleMs - 1 })).statusCode, 200);
    assert.equal((await lxcaCheck(h, token, true)).statusCode, 200, 'one millisecond before the boundary (polling does not renew)');
    await control('PUT', '/clock', { offsetMs: idleMs });
    assert.equal((await lxcaCheck(h, token, true)).statusCode, 401, 'at the boundary it has ended');
    assert.equal((await hcxCheck(h, token)).statusCode, 401);
  });

  it('expires a session now (every dialect answers it as expired; audited as session.expire)', async () => {
    const token = await hcxLogin(h, ALICE);
    const s = await h.p.sessions.authenticate(token, false);
    const res = await control('POST', `/sessions/${s!.id}/expire`, { kind: 'absolute' });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal((await hcxCheck(h, token)).statusCode, 401);
    assert.equal((await lxcaCheck(h, token)).statusCode, 401);
    const audit = await h.p.audit.query({ kind: 'session.expire' });
    assert.ok(audit.some((a) => a.detail.session === s!.id && a.detail.cause === 'client-testing' && a.detail.kind === 'absolute'));
    assert.equal((await control('POST', `/sessions/${s!.id}/expire`)).statusCode, 404);
  });

  it('revokes all sessions of a user, marks must-change-password, locks and unlocks', async () => {
    const a1 = await hcxLogin(h, ALICE);
    const a2 = await hcxLogin(h, ALICE);
    assert.ok((await control('POST', '/users/alice/revoke-sessions')).json().revoked >= 2);
    assert.equal((await hcxCheck(h, a1)).statusCode, 401);
    assert.equal((await hcxCheck(h, a2)).statusCode, 401);

    const b = await hcxLogin(h, BOB);
    assert.ok((await control('PUT', '/users/bob/must-change-password', { value: true })).json().sessionsMarked >= 1);
    const gated = await hcxCheck(h, b);
    assert.equal(gated.statusCode, 403);
    assert.match(gated.json().error, /Password change required/);
    await control('PUT', '/users/bob/must-change-password', { value: false });
    assert.equal((await hcxCheck(h, b)).statusCode, 200);

    // A real lock: like the brute-force rule's, it does not shut out sources the account logged in from before.
    assert.equal((await control('POST', '/users/alice/lock')).statusCode, 200);
    const fresh = { remoteAddress: '198.51.100.7' };
    const locked = await h.app.inject({ method: 'POST', url: '/api/admin/v1/sessions', payload: ALICE, ...fresh });
    assert.equal(locked.statusCode, 401, 'a locked account answers like a wrong password');
    assert.equal((await h.app.inject({ method: 'POST', url: '/api/admin/v1/sessions', payload: ALICE })).statusCode, 200, 'a known source still gets in');
    await control('POST', '/users/alice/lock');
    assert.equal((await control('POST', '/users/alice/unlock')).json().wasLocked, true);
    assert.equal((await h.app.inject({ method: 'POST', url: '/api/admin/v1/sessions', payload: ALICE, ...fresh })).statusCode, 200);
  });

  it('audits every control use (testing.control)', async () => {
    const before = (await h.p.audit.query({ kind: 'testing.control' })).length;
    await addFault({ effect: { status: 500 }, count: 1 });
    await control('PUT', '/clock', { offsetMinutes: 5 });
    await control('DELETE', '/faults');
    const rows = (await h.p.audit.query({ kind: 'testing.control' })).slice(0, 3 + (0 * before));
    const controls = (await h.p.audit.query({ kind: 'testing.control' })).map((r) => r.detail.control);
    assert.equal(controls.length - before, 3);
    assert.ok(controls.includes('fault.add') && controls.includes('clock.offset') && controls.includes('fault.clear'), JSON.stringify(rows));
  });

  it('drops the connection, and truncates an answer, on a real socket', async () => {
    const app = createApp(h.p, h.logger);
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const port = (app.server.address() as { port: number }).port;
      const login = `POST /sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${JSON.stringify({ UserId: 'bob', password: BOB.password }).length}\r\n\r\n${JSON.stringify({ UserId: 'bob', password: BOB.password })}`;
      await addFault({ match: { op: 'login' }, effect: { drop: true }, count: 1 });
      await assert.rejects(rawRequest(port, login), /no answer/);
      await addFault({ match: { op: 'login' }, effect: { truncate: true }, count: 1 });
      const cut = await rawRequest(port, login);
      assert.equal(cut.statusCode, 200);
      assert.ok(Buffer.byteLength(cut.body) < Number(cut.headers['content-length']), 'fewer bytes than announced');
      assert.ok(Buffer.byteLength(cut.body) > 0);
      const whole = await rawRequest(port, login);
      assert.equal(Buffer.byteLength(whole.body), Number(whole.headers['content-length']));
    } finally {
      await app.close();
    }
  });

  it('runs scenario steps in order: at request N, and after T seconds', async () => {
    const token = await hcxLogin(h, ALICE);
    const start = h.p.testing!.requestCount;
    h.p.testing!.load(
      parseScenario(`
- at: { request: ${start + 2} }
  do: { fault: { match: { op: check }, effect: { status: 401 }, count: 1 } }
- at: { afterSeconds: 0.3 }
  do: { fault: { match: { op: check }, effect: { status: 503 }, count: 1 } }
`),
    );
    assert.equal((await hcxCheck(h, token)).statusCode, 200, 'request start+1');
    assert.equal((await hcxCheck(h, token)).statusCode, 401, 'request start+2: the step applied first');
    assert.equal((await hcxCheck(h, token)).statusCode, 200);
    await new Promise((r) => setTimeout(r, 400));
    assert.equal((await hcxCheck(h, token)).statusCode, 503);
    assert.deepEqual(h.p.testing!.stepsDone.slice(-2), [1, 2]);
  });

  it('validates a scenario at load, naming the step', () => {
    assert.throws(() => parseScenario('- at: { request: 1 }\n  do: { fault: { effect: { status: 200 } } }\n'), (e: unknown) => e instanceof ScenarioError && /step 1/.test(e.message) && /status/.test(e.message));
    assert.throws(() => parseScenario('- at: { request: 1 }\n  do: { clock: { offsetMinutes: 5 } }\n- at: { whenever: 1 }\n  do: { clearFaults: true }\n'), (e: unknown) => e instanceof ScenarioError && /step 2/.test(e.message));
    assert.throws(() => parseScenario('- at: { request: 1 }\n  do: { reboot: true }\n'), /step 1.*known actions/);
    assert.throws(() => parseScenario('[ not yaml'), /not valid YAML/);
    assert.throws(() => parseScenario('[]'), /scenario/);
  });
});

describe('the recorder and replay', () => {
  let a: Harness;
  let b: Harness;
  let appA: FastifyInstance;
  const dir = tempDir();
  const file = join(dir.path, 'record.jsonl');

  before(async () => {
    a = await harness({ overrides: { 'clientTesting.enabled': true } });
    b = await harness({ overrides: { 'clientTesting.enabled': true, 'lxca.failedLoginStatus': 401 } });
    for (const h of [a, b]) await addUser(h, ALICE.username, ALICE.password, ADMIN_ROLES);
    appA = createApp(a.p, a.logger, undefined, { controlToken: newControlToken(), recorder: new Recorder(file) });
    await appA.ready();
  });
  after(async () => {
    await appA.close();
    await a.close();
    await b.close();
    dir.remove();
  });

  it('records every exchange with every secret masked (password, token, cookies, csrf)', async () => {
    const hcx = await appA.inject({ method: 'POST', url: '/api/admin/v1/sessions', payload: ALICE });
    const token = String(hcx.headers['x-hm-authorization']);
    const lx = await appA.inject({ method: 'POST', url: '/sessions', payload: { UserId: ALICE.username, password: ALICE.password } });
    const csrf = lx.json().response.session.csrf as string;
    await appA.inject({ method: 'GET', url: '/api/admin/v1/sessions', headers: { 'x-hm-authorization': token } });
    await appA.inject({ method: 'GET', url: '/sessions', headers: { cookie: `JSESSIONID=${token}; csrf=${csrf}` } });
    await appA.inject({ method: 'POST', url: '/sessions', payload: { UserId: 'nobody', password: 'Wrong-Pass-99' } });
    const text = readFileSync(file, 'utf8');
    const lines = text.trim().split('\n');
    assert.equal(lines.length, 5);
    for (const secret of [ALICE.password, 'Wrong-Pass-99', token, csrf]) assert.ok(!text.includes(secret), `a secret is in the recording`);
    const first = JSON.parse(lines[0]!);
    assert.equal(first.requestBody.password, '***');
    assert.equal(first.responseHeaders['x-hm-authorization'], '***');
    assert.equal(JSON.parse(lines[3]!).requestHeaders.cookie, 'JSESSIONID=***; csrf=***');
  });

  it('replays a recording against another instance, putting credentials back, and reports the differences', async () => {
    const text = readFileSync(file, 'utf8');
    await b.app.listen({ host: '127.0.0.1', port: 0 });
    const base = new URL(`http://127.0.0.1:${(b.app.server.address() as { port: number }).port}`);
    const report = await replay(text, base, { password: ALICE.password });
    // B answers a failed XClarity login with 401 (A: 403): the one difference.
    assert.equal(report.total, 5);
    assert.equal(report.differing, 1, report.lines.join('\n'));
    assert.match(report.lines[4]!, /status 403 recorded, 401 now/);
    for (const l of report.lines.slice(0, 4)) assert.match(l, /same \(200\)/);
  });
});

