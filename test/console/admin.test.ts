import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_ROLES, addUser, harness, type Harness } from '../helpers.js';
import { postForm, sessionOf, webLogin, type WebLogin } from './web-helpers.js';

/*
 * The console's administrator pages through inject: every action goes through the
 * same core calls as the CLI, is csrf-protected, and shows up where other dialects look.
 */

describe('console: administrator pages', () => {
  let h: Harness;
  let root: WebLogin;
  let op: WebLogin;

  before(async () => {
    h = await harness({ overrides: { trustProxy: true, 'bruteForce.sourceMaxFailures': 2, 'accountSettings.MaximumLoginFailures': 5 } });
    await addUser(h, 'root', 'Root-Pass-12', ADMIN_ROLES);
    // Appliance Administrator: may use the HCX API, is not a Portcullis administrator (accounts.adminRoles).
    await addUser(h, 'op', 'Op-Pass-1234', ['Appliance Administrator']);
    await addUser(h, 'carol', 'Carol-Pass-1', ['Appliance Administrator']);
    root = sessionOf(await webLogin(h, { username: 'root', password: 'Root-Pass-12' }));
    op = sessionOf(await webLogin(h, { username: 'op', password: 'Op-Pass-1234' }));
  });
  after(() => h.close());

  const get = (url: string, s: WebLogin) => h.app.inject({ method: 'GET', url, headers: { cookie: s.cookie } });

  it('every admin page renders for an administrator and is 403 for an operator', async () => {
    for (const url of ['/console/', '/console/accounts', '/console/accounts/carol', '/console/sessions', '/console/lockouts', '/console/audit', '/console/policy', '/console/identity']) {
      const res = await get(url, root);
      assert.equal(res.statusCode, 200, `${url}: ${res.body.slice(0, 200)}`);
      assert.match(String(res.headers['content-security-policy']), /script-src 'self'/);
      assert.doesNotMatch(res.body, /<script>|<script [^>]*>[^<]/, 'no inline script');
      assert.ok(!res.body.includes(root.token), 'the session token is never in the page');
      if (url !== '/console/') assert.equal((await get(url, op)).statusCode, 403, url);
    }
    assert.equal((await get('/console/', op)).headers.location, '/console/account');
  });

  it('creates an account (must change password), changes roles, disables and enables it, resets its password', async () => {
    const created = await postForm(h, '/console/accounts', root.cookie, { csrf: root.csrf, username: 'dave', password: 'Dave-Pass-12', roles: 'Operator, Auditor', organizations: '' });
    assert.equal(created.statusCode, 303, created.body);
    const dave = await h.p.accounts.get('dave');
    assert.deepEqual(dave.roles, ['Operator', 'Auditor']);
    assert.equal(dave.mustChangePassword, true);
    assert.equal((await postForm(h, '/console/accounts', root.cookie, { username: 'eve', password: 'Eve-Pass-123', roles: 'x' })).statusCode, 403, 'csrf');
    assert.equal((await postForm(h, '/console/accounts', root.cookie, { csrf: root.csrf, username: 'dave', password: 'Dave-Pass-12', roles: 'x' })).statusCode, 409);
    assert.equal((await postForm(h, '/console/accounts', root.cookie, { csrf: root.csrf, username: 'frank', password: 'short', roles: 'x' })).statusCode, 400);
    await postForm(h, '/console/accounts/dave/roles', root.cookie, { csrf: root.csrf, roles: 'Auditor', organizations: 'Lab' });
    assert.deepEqual((await h.p.accounts.get('dave')).organizations, ['Lab']);
    await postForm(h, '/console/accounts/dave/disable', root.cookie, { csrf: root.csrf });
    assert.equal((await h.p.accounts.get('dave')).disabled, true);
    await postForm(h, '/console/accounts/dave/enable', root.cookie, { csrf: root.csrf });
    assert.equal((await h.p.accounts.get('dave')).disabled, false);
    const reset = await postForm(h, '/console/accounts/dave/password', root.cookie, { csrf: root.csrf, password: 'Dave-New-Pass-1' });
    assert.equal(reset.statusCode, 303);
    assert.equal((await h.p.accounts.get('dave')).mustChangePassword, false);
    const ev = (await h.p.audit.query({ username: 'dave' })).map((e) => `${e.kind}:${e.dialect}`);
    assert.ok(ev.includes('account.disable:console') && ev.includes('password.reset:console'), ev.join());
    assert.equal((await get('/console/accounts/nobody', root)).statusCode, 404);
  });

  it('revokes a user\'s HCX session: the token then gets 401 on the HCX API', async () => {
    const login = await h.app.inject({ method: 'POST', url: '/api/admin/v1/sessions', payload: { username: 'carol', password: 'Carol-Pass-1' } });
    assert.equal(login.statusCode, 200, login.body);
    const token = String(login.headers['x-hm-authorization']);
    const list = await get('/console/sessions?user=carol&dialect=hcx', root);
    assert.match(list.body, /HCX/);
    const id = /name="id" value="([a-z2-7]{26})"/.exec(list.body)![1]!;
    const res = await postForm(h, '/console/sessions/revoke', root.cookie, { csrf: root.csrf, id });
    assert.equal(res.statusCode, 303);
    const check = await h.app.inject({ method: 'GET', url: '/api/admin/v1/sessions', headers: { 'x-hm-authorization': token } });
    assert.equal(check.statusCode, 401);
  });

  it('unlocks a locked account and releases a throttled source', async () => {
    for (let i = 0; i < 6; i++) await h.app.inject({ method: 'POST', url: '/api/admin/v1/sessions', headers: { 'x-forwarded-for': `198.51.100.${i * 3 + 1}` }, payload: { username: 'carol', password: `wrong-${i}-pass` } });
    assert.equal((await h.p.accounts.lockState('carol')).locked, true);
    const page1 = await get('/console/lockouts', root);
    assert.match(page1.body, /Locked accounts \(1\)/);
    assert.match(page1.body, /Throttled source addresses \(0\)/);
    await postForm(h, '/console/accounts/carol/unlock', root.cookie, { csrf: root.csrf });
    assert.equal((await h.p.accounts.lockState('carol')).locked, false);
    for (let i = 0; i < 2; i++) await h.app.inject({ method: 'POST', url: '/api/admin/v1/sessions', headers: { 'x-forwarded-for': '203.0.113.9' }, payload: { username: 'op', password: `wrong-${i}-pass` } });
    const page2 = await get('/console/lockouts', root);
    assert.match(page2.body, /Throttled source addresses \(1\)/);
    assert.match(page2.body, /203\.0\.113\.9/);
    const blocked = await h.app.inject({ method: 'POST', url: '/api/admin/v1/sessions', headers: { 'x-forwarded-for': '203.0.113.9' }, payload: { username: 'op', password: 'Op-Pass-1234' } });
    assert.equal(blocked.statusCode, 401);
    await postForm(h, '/console/lockouts/release', root.cookie, { csrf: root.csrf, source: '203.0.113.9' });
    const ok = await h.app.inject({ method: 'POST', url: '/api/admin/v1/sessions', headers: { 'x-forwarded-for': '203.0.113.9' }, payload: { username: 'op', password: 'Op-Pass-1234' } });
    assert.equal(ok.statusCode, 200);
    assert.equal((await h.p.audit.query({ kind: 'source.release' })).length, 1);
  });

  it('the audit trail filters and exports CSV and JSON (spreadsheet formulas neutralised)', async () => {
    const page1 = await get('/console/audit?kind=login.failure&user=carol', root);
    assert.equal(page1.statusCode, 200);
    assert.match(page1.body, /login\.failure/);
    assert.doesNotMatch(page1.body, /<td>login\.success<\/td>/);
    const csv = await get('/console/audit/export.csv?kind=login.failure&user=carol', root);
    assert.match(String(csv.headers['content-type']), /^text\/csv/);
    const lines = csv.body.trim().split('\r\n');
    assert.equal(lines[0], 'seq,at,kind,username,clientAddress,dialect,requestId,detail');
    assert.ok(lines.length >= 7);
    const json = await get('/console/audit/export.json?user=carol', root);
    const rows = JSON.parse(json.body) as { username: string }[];
    assert.ok(rows.length > 0 && rows.every((r) => r.username === 'carol'));
    assert.equal((await get('/console/audit/export.xml', root)).statusCode, 404);
  });

  it('the policy page changes userAccountSettings (audited) and refuses values out of range', async () => {
    const ok = await postForm(h, '/console/policy', root.cookie, { csrf: root.csrf, LockoutTime: '30' });
    assert.equal(ok.statusCode, 200);
    assert.equal((await h.p.settings.get()).LockoutTime, 30);
    const bad = await postForm(h, '/console/policy', root.cookie, { csrf: root.csrf, MaxConcurrentSessions: '-4' });
    assert.equal(bad.statusCode, 400);
    assert.ok((await h.p.audit.query({ kind: 'settings.change' })).some((e) => e.dialect === 'console'));
  });

  it('the identity page tests a login without making a session', async () => {
    const before = (await h.p.sessions.listSessions({ username: 'op' })).length;
    const res = await postForm(h, '/console/identity/test', root.cookie, { csrf: root.csrf, provider: 'local', username: 'op', password: 'Op-Pass-1234' });
    assert.match(res.body, /Accepted by local/);
    assert.equal((await h.p.sessions.listSessions({ username: 'op' })).length, before);
    const wrong = await postForm(h, '/console/identity/test', root.cookie, { csrf: root.csrf, provider: 'local', username: 'op', password: 'nope-nope' });
    assert.match(wrong.body, /Not accepted/);
  });

  it('metrics come from the audit trail: the burst of logins is counted per minute', async () => {
    const res = await h.app.inject({ method: 'GET', url: '/console/api/metrics?hours=1', headers: { cookie: root.cookie } });
    assert.equal(res.statusCode, 200, res.body);
    const m = JSON.parse(res.body) as { minutes: number[]; logins: { success: number[]; failure: number[]; throttled: number[] }; lockouts: number[]; sessions: (number | null)[] };
    assert.equal(m.minutes.length, 60);
    const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
    const audit = await h.p.audit.query({ kind: 'login.', limit: 10000 });
    assert.equal(sum(m.logins.success), audit.filter((e) => e.kind === 'login.success').length);
    assert.ok(sum(m.logins.failure) >= 6);
    assert.ok(sum(m.logins.throttled) >= 1);
    assert.equal(sum(m.lockouts), 1);
    assert.equal(m.sessions.at(-1), (await h.p.sessions.listSessions()).length);
    assert.equal((await h.app.inject({ method: 'GET', url: '/console/api/metrics', headers: { cookie: op.cookie } })).statusCode, 403);
    assert.equal((await h.app.inject({ method: 'GET', url: '/console/api/metrics' })).statusCode, 401);
    assert.equal((await h.app.inject({ method: 'GET', url: '/console/api/metrics?hours=99', headers: { cookie: root.cookie } })).statusCode, 400);
  });
});
