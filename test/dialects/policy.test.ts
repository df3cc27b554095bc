import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { loadConfig } from '../../src/config.js';
import { ManualClock } from '../../src/ports/clock.js';
import { settingsFromConfig } from '../../src/service.js';
import { ADMIN_ROLES, addUser, harness, type Harness } from '../helpers.js';

/*
 * The account policy through every dialect: LXCA /userAccountSettings, the
 * concurrency limit, the forced password change and its change-password calls,
 * and the audit trail through the admin API.
 */

const START = Date.UTC(2026, 10, 23, 9, 0, 0);
const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const ALICE = { username: 'alice', password: 'Alice-Pass-1', roles: ['System Administrator'] };
const ROOT = { username: 'root-admin', password: 'Root-Pass-1', roles: ADMIN_ROLES };

interface Lxca {
  res: LightMyRequestResponse;
  token: string;
  csrf: string;
  id: string;
  cookie: string;
}

async function lxcaLogin(h: Harness, username: string, password: string): Promise<Lxca> {
  const res = await h.app.inject({ method: 'POST', url: '/sessions', payload: { UserId: username, password } });
  if (res.statusCode !== 200) return { res, token: '', csrf: '', id: '', cookie: '' };
  const body = res.json();
  const token = (res.cookies.find((c) => c.name === 'JSESSIONID')?.value ?? '') as string;
  const csrf = body.response.session.csrf as string;
  return { res, token, csrf, id: body.response.session.id as string, cookie: `JSESSIONID=${token}; csrf=${csrf}` };
}

async function hcxLogin(h: Harness, username: string, password: string): Promise<{ res: LightMyRequestResponse; token: string }> {
  const res = await h.app.inject({ method: 'POST', url: '/api/admin/v1/sessions', payload: { username, password } });
  return { res, token: (res.headers['x-hm-authorization'] as string | undefined) ?? '' };
}

const lxcaId = (res: LightMyRequestResponse) => (res.json() as { messages: { id: string }[] }).messages[0]!.id;
const lxcaText = (res: LightMyRequestResponse) => (res.json() as { messages: { text: string }[] }).messages[0]!.text;

function lxca(h: Harness, s: Lxca, method: 'GET' | 'PUT' | 'DELETE', url: string, payload?: object, csrf = true) {
  return h.app.inject({ method, url, headers: { cookie: s.cookie, ...(csrf && { 'x-csrf-token': s.csrf }) }, ...(payload && { payload }) });
}

function admin(h: Harness, token: string, method: 'GET' | 'PUT' | 'POST' | 'DELETE', url: string, payload?: object) {
  return h.app.inject({ method, url: `/portcullis/api/v1${url}`, headers: { authorization: `Bearer ${token}` }, ...(payload && { payload }) });
}

describe('account settings (LXCA /userAccountSettings, admin API)', () => {
  let h: Harness;
  let clock: ManualClock;
  let root: Lxca;

  beforeEach(async () => {
    clock = new ManualClock(START);
    h = await harness({ clock });
    await addUser(h, ALICE.username, ALICE.password, ['Operator']);
    await addUser(h, ROOT.username, ROOT.password, ROOT.roles);
    root = await lxcaLogin(h, ROOT.username, ROOT.password);
  });
  afterEach(() => h.close());

  it("defaults to XClarity's values: LockoutTime 60, MaximumLoginFailures 20, MaxConcurrentSessions 3, MaximumPasswordExpiration 90", () => {
    assert.deepEqual(settingsFromConfig(loadConfig({ env: {} })), {
      InactivityTimeout: 24,
      SessionLifetime: 1440,
      LockoutTime: 60,
      MaximumLoginFailures: 20,
      MaxConcurrentSessions: 3,
      MaximumPasswordExpiration: 90,
      MinimumPasswordLength: 8,
      MinimumPasswordReuseCycle: 5,
    });
  });

  it('shows the settings in force to an administrator with GET /userAccountSettings', async () => {
    const res = await lxca(h, root, 'GET', '/userAccountSettings', undefined, false);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().result, 'success');
    assert.equal(res.json().response.LockoutTime, 60);
    assert.equal(res.json().response.MaximumLoginFailures, 20);
  });

  it('refuses the settings to a user without an administrator role (403 FQXHMSE0106J)', async () => {
    const alice = await lxcaLogin(h, ALICE.username, ALICE.password);
    const get = await lxca(h, alice, 'GET', '/userAccountSettings', undefined, false);
    assert.equal(get.statusCode, 403);
    assert.equal(lxcaId(get), 'FQXHMSE0106J');
    const put = await lxca(h, alice, 'PUT', '/userAccountSettings', { LockoutTime: 30 });
    assert.equal(put.statusCode, 403);
    assert.equal((await h.p.settings.get()).LockoutTime, 60);
  });

  it('refuses PUT /userAccountSettings without the X-Csrf-Token (403 FQXHMSE0104J)', async () => {
    const res = await lxca(h, root, 'PUT', '/userAccountSettings', { LockoutTime: 30 }, false);
    assert.equal(res.statusCode, 403);
    assert.equal(lxcaId(res), 'FQXHMSE0104J');
    assert.equal((await h.p.settings.get()).LockoutTime, 60);
  });

  it('stores a change, shows it, keeps the other settings and audits who changed what', async () => {
    const res = await lxca(h, root, 'PUT', '/userAccountSettings', { LockoutTime: 30, MaxConcurrentSessions: 5 });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().response.LockoutTime, 30);
    const again = await lxca(h, root, 'GET', '/userAccountSettings', undefined, false);
    assert.equal(again.json().response.LockoutTime, 30);
    assert.equal(again.json().response.MaxConcurrentSessions, 5);
    assert.equal(again.json().response.MaximumLoginFailures, 20);
    const [e] = await h.p.audit.query({ kind: 'settings.change' });
    assert.equal(e!.username, 'root-admin');
    assert.equal(e!.dialect, 'lxca');
    assert.deepEqual(JSON.parse(e!.detail.changed as string), { LockoutTime: { from: 60, to: 30 }, MaxConcurrentSessions: { from: 0, to: 5 } });
  });

  for (const [body, words] of [
    [{ MaximumLoginFailures: 0 }, 'MaximumLoginFailures must be between 1 and 100'],
    [{ MaximumLoginFailures: 101 }, 'MaximumLoginFailures must be between 1 and 100'],
    [{ InactivityTimeout: -1 }, 'InactivityTimeout must be between 0 and 525600'],
    [{ LockoutTime: 5 }, 'the limit is 100 (NIST SP 800-63B)'],
    [{ Unknown: 1 }, 'unknown field "Unknown"'],
    [{ LockoutTime: 1.5 }, 'field "LockoutTime" must be a whole number'],
    [{ LockoutTime: '30' }, 'field "LockoutTime" must be a whole number'],
    [{}, 'fewer than 1'],
  ] as const) {
    it(`refuses ${JSON.stringify(body)} with 400 FQXHMSE0102J naming the problem (${words}) and changes nothing`, async () => {
      const res = await lxca(h, root, 'PUT', '/userAccountSettings', body);
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(lxcaId(res), 'FQXHMSE0102J');
      assert.ok(lxcaText(res).includes(words), lxcaText(res));
      assert.deepEqual(await h.p.store.getSettings(), {});
    });
  }

  it('gives new sessions the InactivityTimeout in force; sessions made before keep theirs', async () => {
    const before = await lxcaLogin(h, ALICE.username, ALICE.password);
    assert.equal((await lxca(h, root, 'PUT', '/userAccountSettings', { InactivityTimeout: 5 })).statusCode, 200);
    const after = await lxcaLogin(h, ALICE.username, ALICE.password);
    assert.equal(after.res.json().response.session.inactivityTimeout, '300');
    clock.advance(5 * MINUTE - 1);
    const poll = (s: Lxca) => h.app.inject({ method: 'GET', url: '/sessions', headers: { cookie: s.cookie, 'x-not-user-input': 'checkSession' } });
    assert.equal((await poll(after)).statusCode, 200);
    clock.advance(1);
    assert.equal((await poll(after)).statusCode, 401, 'the new session ends at exactly 5 minutes');
    assert.equal((await poll(before)).statusCode, 200, 'the older session keeps its 24 minutes');
  });

  it('ends sessions at SessionLifetime whatever their activity, exactly at the boundary', async () => {
    await h.p.settings.set({ SessionLifetime: 30, InactivityTimeout: 0 });
    const s = await lxcaLogin(h, ALICE.username, ALICE.password);
    for (let i = 0; i < 29; i++) {
      clock.advance(MINUTE);
      assert.equal((await lxca(h, s, 'GET', '/sessions', undefined, false)).statusCode, 200);
    }
    clock.advance(MINUTE - 1);
    assert.equal((await lxca(h, s, 'GET', '/sessions', undefined, false)).statusCode, 200);
    clock.advance(1);
    assert.equal((await lxca(h, s, 'GET', '/sessions', undefined, false)).statusCode, 401);
  });

  it('reads and changes the same settings through the admin API', async () => {
    const { token } = await hcxLogin(h, ROOT.username, ROOT.password);
    assert.equal((await admin(h, token, 'PUT', '/settings', { MaximumLoginFailures: 10 })).statusCode, 200);
    const res = await admin(h, token, 'GET', '/settings');
    assert.equal(res.json().settings.MaximumLoginFailures, 10);
    const bad = await admin(h, token, 'PUT', '/settings', { LockoutTime: 1 });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().error.code, 'invalid_input');
  });
});

describe('settings seeded from the configuration file', () => {
  it('takes unset values from the configuration and lets stored values win', async () => {
    const h = await harness({ overrides: { 'accountSettings.LockoutTime': 45, 'session.inactivityTimeoutMinutes': 10 } });
    try {
      assert.equal((await h.p.settings.get()).LockoutTime, 45);
      assert.equal((await h.p.settings.get()).InactivityTimeout, 10);
      await h.p.settings.set({ LockoutTime: 90 });
      assert.equal((await h.p.settings.get()).LockoutTime, 90);
      assert.equal((await h.p.settings.get()).InactivityTimeout, 10);
    } finally {
      await h.close();
    }
  });

  it('refuses to start on configured settings beyond 100 failures per hour', async () => {
    await assert.rejects(harness({ overrides: { 'accountSettings.LockoutTime': 1 } }), /accountSettings: .*NIST/);
  });
});

describe('concurrent session limit (MaxConcurrentSessions)', () => {
  let h: Harness;
  let clock: ManualClock;

  beforeEach(async () => {
    clock = new ManualClock(START);
    // Eight parallel logins from one new address: allow them all past the per-source and per-account limits, so the session limit decides.
    h = await harness({ clock, overrides: { 'accountSettings.MaxConcurrentSessions': 2, 'flood.perSourceLogins': 8, 'flood.perAccountLogins': 8 } });
    await addUser(h, ALICE.username, ALICE.password, ALICE.roles);
  });
  afterEach(() => h.close());

  it('refuses an HCX login beyond the limit with 403 NOT_ENOUGH_PRIVILEGES saying why, and keeps the existing sessions', async () => {
    const a = await hcxLogin(h, 'alice', ALICE.password);
    await hcxLogin(h, 'alice', ALICE.password);
    const third = await hcxLogin(h, 'alice', ALICE.password);
    assert.equal(third.res.statusCode, 403);
    assert.equal(third.res.json().errorCode, 'NOT_ENOUGH_PRIVILEGES');
    assert.match(third.res.json().error, /Maximum number of concurrent sessions \(2\) reached/);
    assert.equal(third.res.headers['x-hm-authorization'], undefined);
    assert.equal((await h.app.inject({ method: 'GET', url: '/api/admin/v1/sessions', headers: { 'x-hm-authorization': a.token } })).statusCode, 200);
    assert.equal((await h.p.sessions.listSessions({ username: 'alice' })).length, 2);
  });

  it('refuses an LXCA login beyond the limit with 403 FQXHMSE0116J, and sets no cookie', async () => {
    await lxcaLogin(h, 'alice', ALICE.password);
    await lxcaLogin(h, 'alice', ALICE.password);
    const third = await lxcaLogin(h, 'alice', ALICE.password);
    assert.equal(third.res.statusCode, 403);
    assert.equal(lxcaId(third.res), 'FQXHMSE0116J');
    assert.match(lxcaText(third.res), /maximum number of concurrent sessions/);
    assert.equal(third.res.headers['set-cookie'], undefined);
  });

  it('counts sessions of both dialects together and frees a slot at logout', async () => {
    await hcxLogin(h, 'alice', ALICE.password);
    const l = await lxcaLogin(h, 'alice', ALICE.password);
    assert.equal((await hcxLogin(h, 'alice', ALICE.password)).res.statusCode, 403);
    assert.equal((await lxca(h, l, 'DELETE', '/sessions')).statusCode, 200);
    assert.equal((await hcxLogin(h, 'alice', ALICE.password)).res.statusCode, 200);
  });

  it('does not count expired sessions', async () => {
    await hcxLogin(h, 'alice', ALICE.password);
    await hcxLogin(h, 'alice', ALICE.password);
    clock.advance(24 * MINUTE);
    assert.equal((await hcxLogin(h, 'alice', ALICE.password)).res.statusCode, 200);
  });

  it('lets exactly 2 of 8 parallel logins through', async () => {
    const all = await Promise.all(Array.from({ length: 8 }, () => hcxLogin(h, 'alice', ALICE.password)));
    assert.equal(all.filter((r) => r.res.statusCode === 200).length, 2);
    assert.equal(all.filter((r) => r.res.statusCode === 403).length, 6);
    assert.equal((await h.p.sessions.listSessions({ username: 'alice' })).length, 2);
  });

  it('is unlimited at 0', async () => {
    await h.p.settings.set({ MaxConcurrentSessions: 0 });
    for (let i = 0; i < 5; i++) assert.equal((await hcxLogin(h, 'alice', ALICE.password)).res.statusCode, 200);
  });
});

describe('forced password change', () => {
  let h: Harness;
  let clock: ManualClock;
  const FRESH = { username: 'fresh', password: 'Fresh-Pass-1', roles: ADMIN_ROLES };

  beforeEach(async () => {
    clock = new ManualClock(START);
    h = await harness({ clock });
    await addUser(h, FRESH.username, FRESH.password, FRESH.roles, { mustChangePassword: true });
    await addUser(h, ROOT.username, ROOT.password, ROOT.roles);
  });
  afterEach(() => h.close());

  it('logs a must-change account in with pwChangeRequired true (LXCA)', async () => {
    const s = await lxcaLogin(h, FRESH.username, FRESH.password);
    assert.equal(s.res.statusCode, 200);
    assert.equal(s.res.json().response.pwChangeRequired, true);
  });

  it('refuses every other LXCA call with 403 FQXHMSE0115J', async () => {
    const s = await lxcaLogin(h, FRESH.username, FRESH.password);
    const other = await lxcaLogin(h, ROOT.username, ROOT.password);
    const calls: [string, 'GET' | 'PUT' | 'DELETE', string, object?][] = [
      ['list sessions', 'GET', '/sessions'],
      ['end a session', 'DELETE', `/sessions/${other.id}`],
      ['read settings', 'GET', '/userAccountSettings'],
      ['change settings', 'PUT', '/userAccountSettings', { LockoutTime: 30 }],
    ];
    for (const [what, method, url, body] of calls) {
      const res = await lxca(h, s, method, url, body);
      assert.equal(res.statusCode, 403, `${what}: ${res.body}`);
      assert.equal(lxcaId(res), 'FQXHMSE0115J', what);
      assert.equal(lxcaText(res), 'The password must be changed before any other operation.');
    }
    assert.ok(await h.p.sessions.getSession(other.id), 'nothing was done');
  });

  it('refuses HCX calls with the same token, and with HTTP Basic, with 403 and a clear message', async () => {
    const { token } = await hcxLogin(h, FRESH.username, FRESH.password);
    assert.ok(token);
    const res = await h.app.inject({ method: 'GET', url: '/api/admin/v1/sessions', headers: { 'x-hm-authorization': token } });
    assert.equal(res.statusCode, 403);
    assert.equal(res.json().errorCode, 'NOT_ENOUGH_PRIVILEGES');
    assert.match(res.json().error, /^Password change required/);
    const basic = await h.app.inject({
      method: 'GET',
      url: '/api/admin/v1/sessions',
      headers: { authorization: `Basic ${Buffer.from(`${FRESH.username}:${FRESH.password}`).toString('base64')}` },
    });
    assert.equal(basic.statusCode, 403);
    assert.match(basic.json().error, /^Password change required/);
  });

  it('refuses every admin API route but password change and logout with 403 password_change_required', async () => {
    const { token } = await hcxLogin(h, FRESH.username, FRESH.password);
    const routes = [
      ['GET', '/sessions'],
      ['DELETE', '/sessions/abc'],
      ['DELETE', '/users/root-admin/sessions'],
      ['POST', '/users/root-admin/unlock'],
      ['PUT', '/users/root-admin/password', { password: 'Another-Pass-7' }],
      ['GET', '/settings'],
      ['PUT', '/settings', { LockoutTime: 30 }],
      ['GET', '/audit'],
    ] as const;
    for (const [method, url, body] of routes) {
      const res = await admin(h, token, method, url, body);
      assert.equal(res.statusCode, 403, url);
      assert.equal(res.json().error.code, 'password_change_required', url);
    }
  });

  it('still lets the session log out, in every dialect', async () => {
    const l = await lxcaLogin(h, FRESH.username, FRESH.password);
    assert.equal((await lxca(h, l, 'DELETE', '/sessions')).statusCode, 200);
    const x = await hcxLogin(h, FRESH.username, FRESH.password);
    assert.equal((await h.app.inject({ method: 'DELETE', url: '/api/admin/v1/sessions', headers: { 'x-hm-authorization': x.token } })).statusCode, 200);
    const a = await hcxLogin(h, FRESH.username, FRESH.password);
    assert.equal((await admin(h, a.token, 'DELETE', '/session')).statusCode, 200);
    assert.deepEqual(await h.p.sessions.listSessions({ username: 'fresh' }), []);
  });

  it('changes the password with PUT /userAccounts/passwordChange: the session then works, other sessions end, the next login needs no change', async () => {
    const other = await hcxLogin(h, FRESH.username, FRESH.password);
    const s = await lxcaLogin(h, FRESH.username, FRESH.password);
    const res = await lxca(h, s, 'PUT', '/userAccounts/passwordChange', { currentPassword: FRESH.password, newPassword: 'Brand-New-Pass-2' });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().result, 'success');
    assert.equal((await lxca(h, s, 'GET', '/sessions', undefined, false)).statusCode, 200, 'the same session now works');
    const stale = await h.app.inject({ method: 'GET', url: '/api/admin/v1/sessions', headers: { 'x-hm-authorization': other.token } });
    assert.equal(stale.statusCode, 401, 'the other session ended');
    assert.equal((await lxcaLogin(h, FRESH.username, FRESH.password)).res.statusCode, 403, 'the old password is gone');
    const again = await lxcaLogin(h, FRESH.username, 'Brand-New-Pass-2');
    assert.equal(again.res.json().response.pwChangeRequired, false);
    const [e] = await h.p.audit.query({ kind: 'password.change' });
    assert.equal(e!.username, 'fresh');
    assert.equal(e!.detail.sessionsEnded, 1);
    const trail = JSON.stringify(h.p.store.db.prepare('SELECT * FROM audit').all()) + h.logger.text();
    assert.ok(!trail.includes('Brand-New-Pass-2') && !trail.includes(FRESH.password), 'no password in any audit row or log line');
  });

  it('needs the X-Csrf-Token to change the password through LXCA', async () => {
    const s = await lxcaLogin(h, FRESH.username, FRESH.password);
    const res = await lxca(h, s, 'PUT', '/userAccounts/passwordChange', { currentPassword: FRESH.password, newPassword: 'Brand-New-Pass-2' }, false);
    assert.equal(res.statusCode, 403);
    assert.equal(lxcaId(res), 'FQXHMSE0104J');
  });

  it('refuses a wrong current password (401 FQXHMSE0101J) and new passwords that break the rules (400 FQXHMSE0102J)', async () => {
    const s = await lxcaLogin(h, FRESH.username, FRESH.password);
    const wrong = await lxca(h, s, 'PUT', '/userAccounts/passwordChange', { currentPassword: 'not-it-at-all', newPassword: 'Brand-New-Pass-2' });
    assert.equal(wrong.statusCode, 401);
    assert.equal(lxcaId(wrong), 'FQXHMSE0101J');
    for (const [newPassword, words] of [
      [FRESH.password, 'must differ from the current one'],
      ['short', 'at least 8 characters'],
      ['FRESH', 'at least 8'],
      ['Fresh', 'at least 8'],
    ] as const) {
      const res = await lxca(h, s, 'PUT', '/userAccounts/passwordChange', { currentPassword: FRESH.password, newPassword });
      assert.equal(res.statusCode, 400, newPassword);
      assert.ok(lxcaText(res).includes(words), lxcaText(res));
    }
    await h.p.settings.set({ MinimumPasswordLength: 4 });
    const same = await lxca(h, s, 'PUT', '/userAccounts/passwordChange', { currentPassword: FRESH.password, newPassword: 'FRESH' });
    assert.equal(same.statusCode, 400);
    assert.ok(lxcaText(same).includes('must not be the same as the username'));
  });

  it('refuses one of the last MinimumPasswordReuseCycle passwords', async () => {
    const { token } = await hcxLogin(h, FRESH.username, FRESH.password);
    assert.equal((await admin(h, token, 'PUT', '/password', { currentPassword: FRESH.password, newPassword: 'Second-Pass-2' })).statusCode, 200);
    const back = await admin(h, token, 'PUT', '/password', { currentPassword: 'Second-Pass-2', newPassword: FRESH.password });
    assert.equal(back.statusCode, 400);
    assert.match(back.json().error.message, /must not be one of the last 5 passwords/);
    await h.p.settings.set({ MinimumPasswordReuseCycle: 1 });
    assert.equal((await admin(h, token, 'PUT', '/password', { currentPassword: 'Second-Pass-2', newPassword: FRESH.password })).statusCode, 200);
  });

  it('makes an administrator reset through the admin API a must-change password and ends the user sessions', async () => {
    await addUser(h, 'alice', ALICE.password, ALICE.roles);
    const aliceSession = await hcxLogin(h, 'alice', ALICE.password);
    const { token } = await hcxLogin(h, ROOT.username, ROOT.password);
    const res = await admin(h, token, 'PUT', '/users/alice/password', { password: 'Reset-Pass-9' });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal((await h.app.inject({ method: 'GET', url: '/api/admin/v1/sessions', headers: { 'x-hm-authorization': aliceSession.token } })).statusCode, 401);
    assert.equal((await lxcaLogin(h, 'alice', 'Reset-Pass-9')).res.json().response.pwChangeRequired, true);
    const [e] = await h.p.audit.query({ kind: 'password.reset' });
    assert.equal(e!.detail.by, 'root-admin');
  });

  it('requires a change once the password is MaximumPasswordExpiration days old, exactly at the boundary', async () => {
    await h.p.settings.set({ MaximumPasswordExpiration: 10, InactivityTimeout: 0 });
    clock.advance(10 * DAY - 1);
    assert.equal((await lxcaLogin(h, ROOT.username, ROOT.password)).res.json().response.pwChangeRequired, false);
    clock.advance(1);
    const s = await lxcaLogin(h, ROOT.username, ROOT.password);
    assert.equal(s.res.json().response.pwChangeRequired, true);
    assert.equal((await lxca(h, s, 'GET', '/sessions', undefined, false)).statusCode, 403);
    const res = await lxca(h, s, 'PUT', '/userAccounts/passwordChange', { currentPassword: ROOT.password, newPassword: 'Renewed-Pass-3' });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal((await lxcaLogin(h, ROOT.username, 'Renewed-Pass-3')).res.json().response.pwChangeRequired, false);
  });

  it('refuses HTTP Basic on HCX with an expired password (403 Password change required)', async () => {
    await h.p.settings.set({ MaximumPasswordExpiration: 10 });
    const basic = () =>
      h.app.inject({
        method: 'GET',
        url: '/api/admin/v1/sessions',
        headers: { authorization: `Basic ${Buffer.from(`${ROOT.username}:${ROOT.password}`).toString('base64')}` },
      });
    assert.equal((await basic()).statusCode, 200);
    clock.advance(10 * DAY);
    const res = await basic();
    assert.equal(res.statusCode, 403);
    assert.match(res.json().error, /^Password change required/);
  });
});

describe('audit trail and admin revocation through the admin API', () => {
  let h: Harness;
  let clock: ManualClock;
  let token: string;

  beforeEach(async () => {
    clock = new ManualClock(START);
    h = await harness({ clock });
    await addUser(h, ALICE.username, ALICE.password, ALICE.roles);
    await addUser(h, ROOT.username, ROOT.password, ROOT.roles);
    token = (await hcxLogin(h, ROOT.username, ROOT.password)).token;
  });
  afterEach(() => h.close());

  it('records a login with the request id HCX returns as transactionId, the address and the dialect', async () => {
    const { res } = await hcxLogin(h, 'alice', ALICE.password);
    const events = (await admin(h, token, 'GET', '/audit?user=alice&kind=login.success')).json().events;
    assert.equal(events.length, 1);
    assert.equal(events[0].requestId, res.json().data.user.transactionId);
    assert.equal(events[0].clientAddress, '127.0.0.1');
    assert.equal(events[0].dialect, 'hcx');
    assert.equal(events[0].time, new Date(START).toISOString());
  });

  it('records logout, revocation by an administrator, log-out-everywhere and expiry', async () => {
    const a = await hcxLogin(h, 'alice', ALICE.password);
    await h.app.inject({ method: 'DELETE', url: '/api/admin/v1/sessions', headers: { 'x-hm-authorization': a.token } });
    const b = await lxcaLogin(h, 'alice', ALICE.password);
    assert.equal((await admin(h, token, 'DELETE', `/sessions/${b.id}`)).statusCode, 200);
    assert.equal((await admin(h, token, 'DELETE', `/sessions/${b.id}`)).statusCode, 404);
    await hcxLogin(h, 'alice', ALICE.password);
    await hcxLogin(h, 'alice', ALICE.password);
    const all = await admin(h, token, 'DELETE', '/users/alice/sessions');
    assert.deepEqual(all.json(), { ended: 2 });
    await hcxLogin(h, 'alice', ALICE.password);
    clock.advance(24 * MINUTE);
    await h.p.sweep();
    const kinds = (await h.p.audit.query({ username: 'alice', kind: 'session.' })).map((e) => [e.kind, e.detail.by ?? null]);
    assert.deepEqual(kinds, [
      ['session.logout', 'alice'],
      ['session.revoke', 'root-admin'],
      ['session.revoke', 'root-admin'],
      ['session.expire', null],
    ]);
  });

  it('lists every live session to an administrator, or one user with ?user=', async () => {
    await hcxLogin(h, 'alice', ALICE.password);
    const all = (await admin(h, token, 'GET', '/sessions')).json().sessions;
    assert.deepEqual(all.map((s: { username: string }) => s.username).sort(), ['alice', 'root-admin']);
    const mine = (await admin(h, token, 'GET', '/sessions?user=alice')).json().sessions;
    assert.equal(mine.length, 1);
    assert.equal(mine[0].dialect, 'hcx');
  });

  it('filters the audit by since and refuses a malformed since', async () => {
    clock.advance(MINUTE);
    await hcxLogin(h, 'alice', ALICE.password);
    const since = new Date(START + MINUTE).toISOString();
    const events = (await admin(h, token, 'GET', `/audit?since=${encodeURIComponent(since)}`)).json().events;
    assert.deepEqual(events.map((e: { username: string }) => e.username), ['alice']);
    assert.equal((await admin(h, token, 'GET', '/audit?since=yesterday')).statusCode, 400);
  });

  it('deletes audit events older than the retention (90 days) at the sweep, and keeps those exactly 90 days old', async () => {
    await hcxLogin(h, 'alice', ALICE.password);
    clock.advance(MINUTE);
    await hcxLogin(h, 'alice', ALICE.password);
    clock.advance(90 * DAY);
    await hcxLogin(h, 'alice', ALICE.password);
    await h.p.sweep();
    const left = await h.p.audit.query({ kind: 'login.success', username: 'alice' });
    assert.deepEqual(left.map((e) => e.at), [START + MINUTE, START + MINUTE + 90 * DAY]);
  });

  it('answers the admin API without a token with 401 invalid_session', async () => {
    const res = await h.app.inject({ method: 'GET', url: '/portcullis/api/v1/sessions' });
    assert.equal(res.statusCode, 401);
    assert.equal(res.json().error.code, 'invalid_session');
  });
});
