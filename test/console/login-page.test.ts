import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { checkReturnUrl } from '../../src/http/return-url.js';
import { ManualClock } from '../../src/ports/clock.js';
import { ADMIN_ROLES, addUser, harness, type Harness } from '../helpers.js';
import { cookieOf, form, hidden, postForm, sessionOf, webLogin } from './web-helpers.js';

/*
 * The HTML login page of the gateway and the console (issue 13 item 4):
 * GET/POST /portcullis/login?rd=..., the forced password change, the cookies.
 */

const START = Date.UTC(2026, 10, 23, 9, 0, 0);
const ALICE = { username: 'alice', password: 'Alice-Pass-1' };
const FRESH = { username: 'fresh', password: 'Fresh-Pass-1' };

describe('return URLs (rd) are accepted only for configured domains', () => {
  const allowed = ['example.com'];
  for (const ok of ['/console/', '/app?x=1#y', 'https://example.com/', 'https://app.example.com:8443/p?q', 'http://a.b.example.com/']) {
    it(`accepts ${ok}`, () => assert.equal(checkReturnUrl(ok, allowed).ok, true));
  }
  for (const bad of [
    '//evil.test/',
    '/\\evil.test',
    'https://evil.test/',
    'https://example.com.evil.test/',
    'https://notexample.com/',
    'https://user:pw@example.com/',
    'javascript:alert(1)',
    'data:text/html,x',
    'ftp://example.com/',
    'https://example.com/\n',
    'relative/path',
    `/${'a'.repeat(3000)}`,
  ]) {
    it(`refuses ${JSON.stringify(bad.slice(0, 40))}`, () => assert.equal(checkReturnUrl(bad, allowed).ok, false));
  }
});

describe('the login page', () => {
  let h: Harness;
  let clock: ManualClock;

  before(async () => {
    clock = new ManualClock(START);
    h = await harness({
      clock,
      overrides: { 'web.allowedReturnDomains': ['example.com'], 'bruteForce.sourceMaxFailures': 3, 'accountSettings.MaximumLoginFailures': 10 },
    });
    await addUser(h, ALICE.username, ALICE.password, ['Operator']);
    await addUser(h, FRESH.username, FRESH.password, ADMIN_ROLES, { mustChangePassword: true });
    await addUser(h, 'victim', 'Victim-Pass-1', ['Operator']);
  });
  after(() => h.close());

  it('serves a form with a strict CSP, no script, a csrf field and its cookie', async () => {
    const res = await h.app.inject({ method: 'GET', url: '/portcullis/login?rd=%2Fconsole%2Faccount' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/html/);
    const csp = String(res.headers['content-security-policy']);
    for (const d of ["default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "form-action 'self' https://example.com https://*.example.com"]) assert.ok(csp.includes(d), csp);
    assert.equal(res.headers['x-frame-options'], 'DENY');
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.doesNotMatch(res.body, /<script/);
    assert.doesNotMatch(res.body, / style=/);
    const token = cookieOf(res, 'portcullis_login_csrf')!;
    assert.equal(hidden(res.body, 'csrf'), token.value);
    assert.ok(token.attrs.includes('httponly') && token.attrs.includes('secure') && token.attrs.includes('samesite=strict'));
    assert.equal(hidden(res.body, 'rd'), '/console/account');
    assert.match(res.body, /<label for="username">/);
    assert.match(res.body, /<label for="password">/);
  });

  it('signs in: 303 to the return URL with the XClarity session cookie and the csrf cookie', async () => {
    const res = await webLogin(h, ALICE, 'https://app.example.com/jobs?id=7');
    const s = sessionOf(res);
    assert.equal(s.location, 'https://app.example.com/jobs?id=7');
    const c = cookieOf(res, 'JSESSIONID')!;
    assert.ok(c.attrs.includes('httponly') && c.attrs.includes('secure') && c.attrs.includes('path=/'));
    assert.ok(!c.attrs.some((a) => a.startsWith('domain=')), 'no cookie domain configured: host-only');
    assert.equal(cookieOf(res, 'portcullis_login_csrf')!.attrs.includes('max-age=0'), true, 'the login form token is spent');
    // The same session the XClarity dialect knows: listed by GET /sessions, created through the console.
    const list = await h.app.inject({ method: 'GET', url: '/sessions', headers: { cookie: s.cookie } });
    assert.equal(list.statusCode, 200, list.body);
    const mine = (JSON.parse(list.body).response as { isOwnSession: boolean; UserId: string }[]).find((x) => x.isOwnSession);
    assert.equal(mine?.UserId, 'alice');
    const sessions = await h.p.sessions.listSessions({ username: 'alice' });
    assert.ok(sessions.some((x) => x.dialect === 'console'));
  });

  it('goes to the console when no rd is given, and to the console (never elsewhere) for a refused rd', async () => {
    assert.equal(sessionOf(await webLogin(h, ALICE)).location, '/console/');
    for (const evil of ['https://evil.test/', '//evil.test/x', 'https://example.com.evil.test/', '/\\evil.test']) {
      const page = await h.app.inject({ method: 'GET', url: `/portcullis/login?rd=${encodeURIComponent(evil)}` });
      assert.equal(page.statusCode, 200);
      assert.match(page.body, /return address was not accepted/);
      assert.equal(hidden(page.body, 'rd'), undefined);
      // Even a form posted straight with the bad rd does not redirect there.
      const token = cookieOf(page, 'portcullis_login_csrf')!.value;
      const res = await h.app.inject({
        method: 'POST',
        url: '/portcullis/login',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `portcullis_login_csrf=${token}` },
        payload: form({ csrf: token, username: ALICE.username, password: ALICE.password, rd: evil }),
      });
      assert.equal(res.statusCode, 303);
      assert.equal(res.headers.location, '/console/');
    }
  });

  it('a signed-in browser is sent straight on to rd', async () => {
    const s = sessionOf(await webLogin(h, ALICE));
    const res = await h.app.inject({ method: 'GET', url: '/portcullis/login?rd=https%3A%2F%2Fexample.com%2Fa', headers: { cookie: s.cookie } });
    assert.equal(res.statusCode, 303);
    assert.equal(res.headers.location, 'https://example.com/a');
  });

  it('refuses a post without the form token, or with another form\'s, or from another origin (403, the form again)', async () => {
    const get = await h.app.inject({ method: 'GET', url: '/portcullis/login' });
    const token = cookieOf(get, 'portcullis_login_csrf')!.value;
    const cases: { cookie: string; fields: Record<string, string>; origin?: string; site?: string }[] = [
      { cookie: '', fields: { csrf: token } },
      { cookie: `portcullis_login_csrf=${token}`, fields: {} },
      { cookie: `portcullis_login_csrf=${token}`, fields: { csrf: 'x'.repeat(43) } },
      { cookie: `portcullis_login_csrf=${token}`, fields: { csrf: token }, origin: 'https://evil.test' },
      { cookie: `portcullis_login_csrf=${token}`, fields: { csrf: token }, site: 'cross-site' },
    ];
    for (const k of cases) {
      const res = await h.app.inject({
        method: 'POST',
        url: '/portcullis/login',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          cookie: k.cookie,
          ...(k.origin && { origin: k.origin }),
          ...(k.site && { 'sec-fetch-site': k.site }),
        },
        payload: form({ ...k.fields, username: ALICE.username, password: ALICE.password }),
      });
      assert.equal(res.statusCode, 403, JSON.stringify(k));
      assert.match(res.body, /form has expired/);
      assert.equal(cookieOf(res, 'JSESSIONID'), undefined);
    }
  });

  it('answers a wrong password and an unknown user with the same page and status', async () => {
    const a = await webLogin(h, { username: 'alice', password: 'wrong-password' });
    const b = await webLogin(h, { username: 'nobody-here', password: 'wrong-password' });
    assert.equal(a.statusCode, 401);
    assert.equal(b.statusCode, 401);
    const strip = (s: string) => s.replace(/value="[^"]*"/g, '');
    assert.equal(strip(a.body), strip(b.body));
    assert.match(a.body, /user name, password or code is not valid/);
  });

  it('shares the brute-force defence: a throttled source is refused even with the right password', async () => {
    const h2 = await harness({ overrides: { 'bruteForce.sourceMaxFailures': 2, 'accountSettings.MaximumLoginFailures': 10 } });
    try {
      await addUser(h2, 'victim', 'Victim-Pass-1', ['Operator']);
      for (let i = 0; i < 2; i++) assert.equal((await webLogin(h2, { username: 'victim', password: `bad-${i}-password` })).statusCode, 401);
      const res = await webLogin(h2, { username: 'victim', password: 'Victim-Pass-1' });
      assert.equal(res.statusCode, 401);
      assert.equal(cookieOf(res, 'JSESSIONID'), undefined);
      // A throttled source's attempts are audited in bulk (one login.refused row per source and minute, with the count).
      await h2.p.audit.flushRefusals();
      const audit = await h2.p.audit.query({ kind: 'login.refused' });
      assert.ok(audit.some((e) => e.detail.reason === 'source_throttled'), JSON.stringify(audit));
    } finally {
      await h2.close();
    }
  });

  it('forced password change: only the change page until it is done, then on to rd', async () => {
    const res = await webLogin(h, FRESH, 'https://app.example.com/after');
    const s = sessionOf(res);
    assert.equal(s.location, `/portcullis/login/password?rd=${encodeURIComponent('https://app.example.com/after')}`);
    // The console and every dialect refuse the session for anything else.
    const consolePage = await h.app.inject({ method: 'GET', url: '/console/account', headers: { cookie: s.cookie } });
    assert.equal(consolePage.statusCode, 303);
    assert.match(String(consolePage.headers.location), /^\/portcullis\/login\/password/);
    const lxca = await h.app.inject({ method: 'GET', url: '/sessions', headers: { cookie: s.cookie } });
    assert.equal(lxca.statusCode, 403);
    const pageRes = await h.app.inject({ method: 'GET', url: s.location, headers: { cookie: s.cookie } });
    assert.equal(pageRes.statusCode, 200);
    assert.match(pageRes.body, /At least 8 characters/);
    assert.match(pageRes.body, /Not one of your last 5 passwords/);
    assert.equal(hidden(pageRes.body, 'csrf'), s.csrf);
    const change = (fields: Record<string, string>) => postForm(h, '/portcullis/login/password', s.cookie, { csrf: s.csrf, rd: 'https://app.example.com/after', ...fields });
    assert.equal((await change({ current: FRESH.password, new: 'Short-1', confirm: 'Short-1' })).statusCode, 400);
    assert.equal((await change({ current: FRESH.password, new: 'Brand-New-Pass-1', confirm: 'Brand-New-Pass-2' })).statusCode, 400);
    assert.equal((await change({ current: 'not-the-password', new: 'Brand-New-Pass-1', confirm: 'Brand-New-Pass-1' })).statusCode, 401);
    const noCsrf = await postForm(h, '/portcullis/login/password', s.cookie, { current: FRESH.password, new: 'Brand-New-Pass-1', confirm: 'Brand-New-Pass-1' });
    assert.equal(noCsrf.statusCode, 403);
    const done = await change({ current: FRESH.password, new: 'Brand-New-Pass-1', confirm: 'Brand-New-Pass-1' });
    assert.equal(done.statusCode, 303, done.body);
    assert.equal(done.headers.location, 'https://app.example.com/after');
    assert.equal((await h.app.inject({ method: 'GET', url: '/sessions', headers: { cookie: s.cookie } })).statusCode, 200);
    assert.equal((await h.app.inject({ method: 'GET', url: '/console/account', headers: { cookie: s.cookie } })).statusCode, 200);
  });

  it('bad input gets an HTML page in the right status, never a stack or a framework body', async () => {
    const cases = [
      { payload: 'username=a&username=b&password=x', type: 'application/x-www-form-urlencoded', status: 400 },
      { payload: 'just text', type: 'text/plain', status: 415 },
      { payload: `username=${'a'.repeat(20000)}`, type: 'application/x-www-form-urlencoded', status: 413 },
      { payload: '{"username": ', type: 'application/json', status: 400 },
    ];
    for (const k of cases) {
      const res = await h.app.inject({ method: 'POST', url: '/portcullis/login', headers: { 'content-type': k.type }, payload: k.payload });
      assert.equal(res.statusCode, k.status, `${k.type}: ${res.body.slice(0, 200)}`);
      assert.match(String(res.headers['content-type']), /^text\/html/);
      assert.doesNotMatch(res.body, /FST_ERR|at .*\.js:\d+/);
    }
    const tooLong = await webLogin(h, { username: 'u'.repeat(300), password: 'x' });
    assert.equal(tooLong.statusCode, 400);
    assert.match(tooLong.body, /username must be at most 256 characters/);
  });

  it('signing out ends the session (csrf required) and clears the cookies', async () => {
    const s = sessionOf(await webLogin(h, ALICE));
    assert.equal((await postForm(h, '/console/logout', s.cookie, {})).statusCode, 403);
    const out = await postForm(h, '/console/logout', s.cookie, { csrf: s.csrf });
    assert.equal(out.statusCode, 303);
    assert.equal(out.headers.location, '/portcullis/login');
    assert.ok(cookieOf(out, 'JSESSIONID')!.attrs.includes('max-age=0'));
    assert.equal((await h.app.inject({ method: 'GET', url: '/sessions', headers: { cookie: s.cookie } })).statusCode, 401);
  });

  it('a browser at / is sent to the console; an API client still gets JSON', async () => {
    const browser = await h.app.inject({ method: 'GET', url: '/', headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    assert.equal(browser.statusCode, 303);
    assert.equal(browser.headers.location, '/console/');
    const api = await h.app.inject({ method: 'GET', url: '/', headers: { accept: 'application/json' } });
    assert.equal(api.statusCode, 404);
    assert.match(String(api.headers['content-type']), /^application\/json/);
  });
});

describe('the login page with a cookie domain', () => {
  let h: Harness;
  before(async () => {
    h = await harness({ overrides: { 'web.cookieDomain': 'Example.COM', 'web.allowedReturnDomains': ['example.com'] } });
    await addUser(h, ALICE.username, ALICE.password, ['Operator']);
  });
  after(() => h.close());

  it('sets the session and csrf cookies for the parent domain', async () => {
    const res = await webLogin(h, ALICE, 'https://app.example.com/');
    sessionOf(res);
    assert.ok(cookieOf(res, 'JSESSIONID')!.attrs.includes('domain=example.com'));
    assert.ok(cookieOf(res, 'csrf')!.attrs.includes('domain=example.com'));
  });
});
