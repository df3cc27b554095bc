import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SecondFactorService } from '../../src/core/second-factor.js';
import { ManualClock } from '../../src/ports/clock.js';
import { ADMIN_ROLES, addUser, harness, type Harness } from '../helpers.js';
import { cookieOf, postForm, sessionOf, webLogin } from './web-helpers.js';

/*
 * TOTP second factor (RFC 6238) through the console's enrolment pages and the core
 * login path every dialect shares: code field or password + 6 digits, replay,
 * recovery codes, brute-force counting, admin reset, required for administrators.
 */

const START = Date.UTC(2026, 10, 23, 9, 0, 0);
const ALICE = { username: 'alice', password: 'Alice-Pass-1' };

async function enrol(h: Harness, cookie: string, csrf: string, clock: ManualClock): Promise<{ secret: string; codes: string[] }> {
  assert.equal((await postForm(h, '/console/account/totp/begin', cookie, { csrf })).statusCode, 303);
  const pageRes = await h.app.inject({ method: 'GET', url: '/console/account/totp', headers: { cookie } });
  assert.equal(pageRes.statusCode, 200);
  assert.match(pageRes.body, /<img class="qr" src="data:image\/svg\+xml;base64,/);
  const secret = /<code id="totp-secret">([A-Z2-7 ]+)<\/code>/.exec(pageRes.body)![1]!.replaceAll(' ', '');
  assert.equal((await postForm(h, '/console/account/totp/confirm', cookie, { csrf, code: '000000' === SecondFactorService.codeAt(secret, clock.now()) ? '111111' : '000000' })).statusCode, 400);
  const ok = await postForm(h, '/console/account/totp/confirm', cookie, { csrf, code: SecondFactorService.codeAt(secret, clock.now()) });
  assert.equal(ok.statusCode, 200, ok.body);
  const codes = [...ok.body.matchAll(/<li><code>([a-z2-7-]{19})<\/code><\/li>/g)].map((m) => m[1]!);
  assert.equal(codes.length, 10);
  return { secret, codes };
}

function lxcaLogin(h: Harness, username: string, password: string) {
  return h.app.inject({ method: 'POST', url: '/sessions', payload: { UserId: username, password } });
}

describe('TOTP second factor', () => {
  let h: Harness;
  let clock: ManualClock;
  let secret: string;
  let codes: string[];

  before(async () => {
    clock = new ManualClock(START);
    h = await harness({ clock, overrides: { 'bruteForce.sourceMaxFailures': 20, 'accountSettings.MaximumLoginFailures': 50 } });
    await addUser(h, ALICE.username, ALICE.password, ['Operator']);
    const s = sessionOf(await webLogin(h, ALICE));
    ({ secret, codes } = await enrol(h, s.cookie, s.csrf, clock));
    const audit = await h.p.audit.query({ kind: 'totp.enable' });
    assert.equal(audit.length, 1);
    // The secret is stored (TOTP needs it); the recovery codes only as hashes.
    const rows = h.p.store.db.prepare('SELECT code_hash FROM recovery_codes').all() as { code_hash: string }[];
    assert.equal(rows.length, 10);
    for (const code of codes) assert.ok(!rows.some((r) => r.code_hash.includes(code.replaceAll('-', ''))));
  });
  after(() => h.close());

  it('the login page wants the code once enrolled; the right code signs in, the same code again is refused (replay)', async () => {
    clock.advance(60_000);
    assert.equal((await webLogin(h, ALICE)).statusCode, 401, 'password alone');
    const code = SecondFactorService.codeAt(secret, clock.now());
    assert.equal((await webLogin(h, { ...ALICE, otp: code })).statusCode, 303);
    assert.equal((await webLogin(h, { ...ALICE, otp: code })).statusCode, 401, 'replayed within its window');
    clock.advance(30_000);
    assert.equal((await webLogin(h, { ...ALICE, otp: SecondFactorService.codeAt(secret, clock.now()) })).statusCode, 303, 'the next step is fine');
  });

  it('a recovery code signs in once', async () => {
    const rc = codes[0]!;
    assert.equal((await webLogin(h, { ...ALICE, otp: rc.toUpperCase() })).statusCode, 303);
    assert.equal((await webLogin(h, { ...ALICE, otp: rc })).statusCode, 401);
    assert.equal((await h.p.secondFactors.status('alice')).recoveryLeft, 9);
    assert.equal((await h.p.audit.query({ kind: 'totp.recovery_used' })).length, 1);
  });

  it('API dialects: the password followed by the current code (FreeIPA style); the password alone is refused', async () => {
    clock.advance(30_000);
    assert.equal((await lxcaLogin(h, 'alice', ALICE.password)).statusCode, 403, 'XClarity refuses a login with 403');
    assert.equal((await lxcaLogin(h, 'alice', `${ALICE.password}${SecondFactorService.codeAt(secret, clock.now())}`)).statusCode, 200);
    const hcx = await h.app.inject({ method: 'POST', url: '/hybridity/api/sessions', payload: { username: 'alice', password: ALICE.password } });
    assert.equal(hcx.statusCode, 401);
  });

  it('a wrong code answers exactly like a wrong password, and counts toward the brute-force defence', async () => {
    const before = (await h.p.accounts.lockState('alice')).count;
    const wrongCode = await webLogin(h, { ...ALICE, otp: '999999' === SecondFactorService.codeAt(secret, clock.now()) ? '888888' : '999999' });
    const wrongPassword = await webLogin(h, { username: 'alice', password: 'Not-The-Password', otp: SecondFactorService.codeAt(secret, clock.now()) });
    assert.equal(wrongCode.statusCode, 401);
    assert.equal(wrongPassword.statusCode, 401);
    const strip = (x: string) => x.replace(/value="[^"]*"/g, '');
    assert.equal(strip(wrongCode.body), strip(wrongPassword.body));
    assert.equal((await h.p.accounts.lockState('alice')).count, before + 2);
    const reasons = (await h.p.audit.query({ kind: 'login.failure', username: 'alice' })).map((e) => e.detail.reason);
    assert.ok(reasons.includes('invalid_second_factor'));
  });

  it('an administrator reset removes the factor (audited): the password alone works again', async () => {
    assert.equal(await h.p.secondFactors.reset('alice', { requestId: 't', clientAddress: '127.0.0.1', dialect: 'console' }, 'root'), true);
    const ev = await h.p.audit.query({ kind: 'totp.reset' });
    assert.equal(ev.at(-1)?.detail.by, 'root');
    assert.equal((await webLogin(h, ALICE)).statusCode, 303);
  });
});

describe('TOTP required for administrators', () => {
  it('an administrator who must also change the password enrols first, then changes it', async () => {
    const h2 = await harness({ clock: new ManualClock(START), overrides: { 'totp.requiredForAdministrators': true } });
    try {
      await addUser(h2, 'fresh', 'Fresh-Pass-12', ADMIN_ROLES, { mustChangePassword: true });
      const s = sessionOf(await webLogin(h2, { username: 'fresh', password: 'Fresh-Pass-12' }));
      await enrol(h2, s.cookie, s.csrf, h2.clock as ManualClock);
      const next = await h2.app.inject({ method: 'GET', url: '/console/account', headers: { cookie: s.cookie } });
      assert.equal(next.statusCode, 303);
      assert.match(String(next.headers.location), /^\/portcullis\/login\/password/);
      assert.equal((await h2.app.inject({ method: 'GET', url: '/sessions', headers: { cookie: s.cookie } })).statusCode, 403, 'still restricted: the password must change');
    } finally {
      await h2.close();
    }
  });

  let h: Harness;
  let clock: ManualClock;
  before(async () => {
    clock = new ManualClock(START);
    h = await harness({ clock, overrides: { 'totp.requiredForAdministrators': true } });
    await addUser(h, 'root', 'Root-Pass-12', ADMIN_ROLES);
    await addUser(h, 'op', 'Op-Pass-1234', ['Operator']);
  });
  after(() => h.close());

  it('API dialects refuse an administrator without a factor (403); operators are not affected', async () => {
    assert.equal((await lxcaLogin(h, 'root', 'Root-Pass-12')).statusCode, 403);
    assert.equal((await lxcaLogin(h, 'op', 'Op-Pass-1234')).statusCode, 200);
    const reasons = (await h.p.audit.query({ kind: 'login.failure', username: 'root' })).map((e) => e.detail.reason);
    assert.ok(reasons.includes('second_factor_required'));
  });

  it('the console signs the administrator in and sends every page to enrolment until it is done', async () => {
    const s = sessionOf(await webLogin(h, { username: 'root', password: 'Root-Pass-12' }));
    const acc = await h.app.inject({ method: 'GET', url: '/console/account', headers: { cookie: s.cookie } });
    assert.equal(acc.statusCode, 303);
    assert.equal(acc.headers.location, '/console/account/totp');
    // Until then the session is restricted everywhere: the XClarity API refuses the same cookie.
    assert.equal((await h.app.inject({ method: 'GET', url: '/sessions', headers: { cookie: s.cookie } })).statusCode, 403);
    assert.equal((await h.app.inject({ method: 'GET', url: '/portcullis/login/password', headers: { cookie: s.cookie } })).headers.location, '/console/account/totp');
    const { secret } = await enrol(h, s.cookie, s.csrf, clock);
    assert.equal((await h.app.inject({ method: 'GET', url: '/console/account', headers: { cookie: s.cookie } })).statusCode, 200);
    assert.equal((await h.app.inject({ method: 'GET', url: '/sessions', headers: { cookie: s.cookie } })).statusCode, 200, 'restriction lifted');
    clock.advance(30_000);
    assert.equal((await lxcaLogin(h, 'root', `Root-Pass-12${SecondFactorService.codeAt(secret, clock.now())}`)).statusCode, 200);
    assert.equal(cookieOf(await webLogin(h, { username: 'root', password: 'Root-Pass-12' }), 'JSESSIONID'), undefined);
  });
});

describe('TOTP for PAM and directory users is optional by config', () => {
  it('only local accounts may enrol by default; totp.sources adds pam or ldap', async () => {
    const h1 = await harness();
    const h2 = await harness({ overrides: { 'totp.sources': ['ldap'] } });
    try {
      await assert.rejects(h1.p.secondFactors.begin('ldap:bob', 'ldap'), (e: Error & { code?: string }) => e.code === 'forbidden');
      await assert.rejects(h1.p.secondFactors.begin('pam:bob', 'pam'), (e: Error & { code?: string }) => e.code === 'forbidden');
      const { uri } = await h2.p.secondFactors.begin('ldap:bob', 'ldap');
      assert.match(uri, /^otpauth:\/\/totp\/Portcullis:ldap%3Abob\?/);
      assert.equal(h2.p.secondFactors.mayEnrol('local'), true);
      assert.equal(h2.p.secondFactors.mayEnrol('pam'), false);
    } finally {
      await h1.close();
      await h2.close();
    }
  });
});
