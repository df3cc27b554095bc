import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { ManualClock } from '../../src/ports/clock.js';
import { ADMIN_ROLES, addUser, harness, type Harness } from '../helpers.js';

/*
 * Brute-force defence (docs/account-policy.md "Brute-force defence"), through the HTTP app: failures
 * counted atomically per account and per source address, the lock exactly at
 * MaximumLoginFailures, a single address unable to lock an account, trusted sources,
 * LockoutTime, unlock, and a lock indistinguishable from a wrong password.
 */

const START = Date.UTC(2026, 10, 23, 9, 0, 0);
const MINUTE = 60_000;
const ALICE = { username: 'alice', password: 'Alice-Pass-1', roles: ['System Administrator'] };
const ROOT = { username: 'root-admin', password: 'Root-Pass-1', roles: ADMIN_ROLES };

function hcxLogin(h: Harness, username: string, password: string, ip: string): Promise<LightMyRequestResponse> {
  return h.app.inject({ method: 'POST', url: '/api/admin/v1/sessions', headers: { 'x-forwarded-for': ip }, payload: { username, password } });
}

function lxcaLogin(h: Harness, username: string, password: string, ip: string): Promise<LightMyRequestResponse> {
  return h.app.inject({ method: 'POST', url: '/sessions', headers: { 'x-forwarded-for': ip }, payload: { UserId: username, password } });
}

/** A body without its timestamps, which differ from one response to the next. */
function shape(res: LightMyRequestResponse) {
  const b = res.json() as Record<string, unknown>;
  delete b.time;
  return { status: res.statusCode, body: b, wwwAuthenticate: res.headers['www-authenticate'] };
}

const attacker = (i: number) => `198.51.100.${i + 1}`;

describe('brute-force defence', () => {
  let h: Harness;
  let clock: ManualClock;

  beforeEach(async () => {
    clock = new ManualClock(START);
    // These cases count failures that arrive in parallel (from one address, on one account); the limits on logins in
    // progress per source and per account (test/core/login-scheduling.test.ts) would turn most away before they count.
    h = await harness({ clock, overrides: { trustProxy: true, 'flood.perSourceLogins': 100, 'flood.perAccountLogins': 100 } });
    await addUser(h, ALICE.username, ALICE.password, ALICE.roles);
    await addUser(h, ROOT.username, ROOT.password, ROOT.roles);
  });
  afterEach(() => h.close());

  it('counts 20 parallel wrong passwords from 20 addresses as exactly 20, and the lock comes exactly with the 20th', async () => {
    const first19 = await Promise.all(Array.from({ length: 19 }, (_, i) => hcxLogin(h, 'alice', `wrong-${i}`, attacker(i))));
    assert.ok(first19.every((r) => r.statusCode === 401));
    assert.deepEqual(await h.p.accounts.lockState('alice'), { count: 19, locked: false, lockedUntil: 0 });

    const fresh = await Promise.all(Array.from({ length: 20 }, (_, i) => hcxLogin(h, 'bob-does-not-exist', `wrong-${i}`, attacker(i))));
    assert.ok(fresh.every((r) => r.statusCode === 401));
    const state = await h.p.accounts.lockState('bob-does-not-exist');
    assert.equal(state.count, 20, 'twenty parallel failures count twenty');
    assert.equal(state.locked, true, 'and the twentieth locks');

    await hcxLogin(h, 'alice', 'wrong-last', attacker(30));
    const locked = await h.p.accounts.lockState('alice');
    assert.equal(locked.count, 20);
    assert.equal(locked.locked, true);
    assert.equal(locked.lockedUntil, START + 60 * MINUTE, 'LockoutTime defaults to 60 minutes');
    const locks = (await h.p.audit.query({ kind: 'account.lock' })).filter((e) => e.username === 'alice');
    assert.equal(locks.length, 1, 'exactly one lock event');
  });

  it('counts 20 parallel wrong passwords through LXCA exactly too', async () => {
    await Promise.all(Array.from({ length: 20 }, (_, i) => lxcaLogin(h, 'alice', `wrong-${i}`, attacker(i))));
    assert.deepEqual(await h.p.accounts.lockState('alice'), { count: 20, locked: true, lockedUntil: START + 60 * MINUTE });
  });

  it('answers a locked account with the very same refusal as a wrong password (HCX 401, XClarity 403), even for the right password', async () => {
    await Promise.all(Array.from({ length: 20 }, (_, i) => hcxLogin(h, 'alice', `wrong-${i}`, attacker(i))));
    const wrongHcx = shape(await hcxLogin(h, 'root-admin', 'not-it', '203.0.113.9'));
    const lockedHcx = shape(await hcxLogin(h, 'alice', ALICE.password, '203.0.113.7'));
    assert.equal(lockedHcx.status, 401);
    assert.deepEqual(lockedHcx, wrongHcx);
    assert.equal((lockedHcx.body as { errorCode: string }).errorCode, 'INVALID_CREDENTIALS');

    const wrongLxca = shape(await lxcaLogin(h, 'root-admin', 'not-it', '203.0.113.9'));
    const lockedLxca = shape(await lxcaLogin(h, 'alice', ALICE.password, '203.0.113.8'));
    assert.equal(lockedLxca.status, 403);
    assert.deepEqual(lockedLxca, wrongLxca);
    assert.equal((lockedLxca.body as { messages: { id: string }[] }).messages[0]!.id, 'FQXHMSE0101J');
    const audit = await h.p.audit.query({ username: 'alice', kind: 'login.failure' });
    assert.equal(audit.at(-1)!.detail.reason, 'account_locked', 'the reason is kept internally');
  });

  it('does not let one address lock an account: it is throttled after 10 failures, which count against the account, the rest do not', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => hcxLogin(h, 'alice', `wrong-${i}`, attacker(0))));
    assert.ok(results.every((r) => r.statusCode === 401));
    const source = await h.p.store.getLoginFailures('source', attacker(0), START, 60 * MINUTE);
    assert.equal(source.count, 20, 'the source counted all twenty');
    assert.equal(source.locked, true);
    assert.deepEqual(await h.p.accounts.lockState('alice'), { count: 10, locked: false, lockedUntil: 0 });
    // The owner, from another address, is not locked out; the attacker keeps going and still cannot lock it.
    assert.equal((await hcxLogin(h, 'alice', ALICE.password, '203.0.113.7')).statusCode, 200);
    for (let i = 0; i < 30; i++) await hcxLogin(h, 'alice', `again-${i}`, attacker(0));
    assert.equal((await h.p.accounts.lockState('alice')).locked, false);
    assert.equal((await hcxLogin(h, 'alice', ALICE.password, '203.0.113.7')).statusCode, 200);
  });

  it('refuses even the right password from a throttled address, until its window of 60 minutes has passed', async () => {
    for (let i = 0; i < 10; i++) await hcxLogin(h, 'root-admin', `wrong-${i}`, attacker(0));
    assert.equal((await hcxLogin(h, 'alice', ALICE.password, attacker(0))).statusCode, 401);
    clock.advance(60 * MINUTE - 1);
    assert.equal((await hcxLogin(h, 'alice', ALICE.password, attacker(0))).statusCode, 401);
    clock.advance(1);
    assert.equal((await hcxLogin(h, 'alice', ALICE.password, attacker(0))).statusCode, 200);
  });

  it("lets the owner in from an address they logged in from recently, while the account is locked by attackers elsewhere", async () => {
    assert.equal((await hcxLogin(h, 'alice', ALICE.password, '203.0.113.7')).statusCode, 200);
    clock.advance(MINUTE);
    await Promise.all(Array.from({ length: 20 }, (_, i) => lxcaLogin(h, 'alice', `wrong-${i}`, attacker(i))));
    assert.equal((await h.p.accounts.lockState('alice')).locked, true);
    assert.equal((await hcxLogin(h, 'alice', ALICE.password, '203.0.113.99')).statusCode, 401, 'a new address is refused');
    assert.equal((await lxcaLogin(h, 'alice', ALICE.password, '203.0.113.7')).statusCode, 200, 'the trusted address gets in');
    // Its success does not lift the lock for everyone else: the attackers' failures still count (regression: B7 saw
    // guesses succeed because each login of the owner reset the counter the attackers were filling).
    assert.equal((await h.p.accounts.lockState('alice')).locked, true, 'the lock stays for the other addresses');
    assert.equal((await hcxLogin(h, 'alice', ALICE.password, '203.0.113.99')).statusCode, 401, 'a new address is still refused');
  });

  it('resets the counter on a success from an address that is not trusted (XClarity: the counter resets after a successful login)', async () => {
    for (let i = 0; i < 5; i++) await hcxLogin(h, 'alice', `wrong-${i}`, attacker(i));
    assert.equal((await h.p.accounts.lockState('alice')).count, 5);
    assert.equal((await hcxLogin(h, 'alice', ALICE.password, '203.0.113.8')).statusCode, 200);
    assert.equal((await h.p.accounts.lockState('alice')).count, 0);
  });

  it('stops trusting an address 30 days after its last successful login', async () => {
    assert.equal((await hcxLogin(h, 'alice', ALICE.password, '203.0.113.7')).statusCode, 200);
    clock.advance(30 * 24 * 60 * MINUTE);
    await Promise.all(Array.from({ length: 20 }, (_, i) => hcxLogin(h, 'alice', `wrong-${i}`, attacker(i))));
    assert.equal((await hcxLogin(h, 'alice', ALICE.password, '203.0.113.7')).statusCode, 401);
  });

  it('ends the lock exactly LockoutTime minutes after it began', async () => {
    await Promise.all(Array.from({ length: 20 }, (_, i) => hcxLogin(h, 'alice', `wrong-${i}`, attacker(i))));
    clock.advance(60 * MINUTE - 1);
    assert.equal((await hcxLogin(h, 'alice', ALICE.password, '203.0.113.7')).statusCode, 401);
    clock.advance(1);
    assert.equal((await hcxLogin(h, 'alice', ALICE.password, '203.0.113.7')).statusCode, 200);
  });

  it('keeps an account locked until an administrator unlocks it when LockoutTime is 0, and the admin API unlocks it', async () => {
    await h.p.settings.set({ LockoutTime: 0, MaximumLoginFailures: 5 });
    await h.p.settings.set({ MaximumPasswordExpiration: 0, InactivityTimeout: 0, SessionLifetime: 525600 });
    const admin = await hcxLogin(h, 'root-admin', ROOT.password, '203.0.113.1');
    await Promise.all(Array.from({ length: 5 }, (_, i) => hcxLogin(h, 'alice', `wrong-${i}`, attacker(i))));
    clock.advance(300 * 24 * 60 * MINUTE);
    assert.equal((await hcxLogin(h, 'alice', ALICE.password, '203.0.113.7')).statusCode, 401);

    const token = admin.headers['x-hm-authorization'] as string;
    const unlock = await h.app.inject({ method: 'POST', url: '/portcullis/api/v1/users/alice/unlock', headers: { authorization: `Bearer ${token}` } });
    assert.equal(unlock.statusCode, 200, unlock.body);
    assert.deepEqual(unlock.json(), { username: 'alice', wasLocked: true });
    assert.equal((await hcxLogin(h, 'alice', ALICE.password, '203.0.113.7')).statusCode, 200);
    const unlocks = await h.p.audit.query({ kind: 'account.unlock' });
    assert.equal(unlocks.length, 1);
    assert.equal(unlocks[0]!.detail.by, 'root-admin');
  });

  it('refuses the unlock API to a user without an administrator role', async () => {
    await addUser(h, 'op', 'Op-Pass-123', ['Appliance Administrator']);
    const op = await hcxLogin(h, 'op', 'Op-Pass-123', '203.0.113.1');
    const res = await h.app.inject({
      method: 'POST',
      url: '/portcullis/api/v1/users/alice/unlock',
      headers: { authorization: `Bearer ${op.headers['x-hm-authorization'] as string}` },
    });
    assert.equal(res.statusCode, 403);
    assert.equal(res.json().error.code, 'forbidden');
  });

  it('resets the account counter at a successful login (XClarity), so failures must be consecutive to lock', async () => {
    for (let i = 0; i < 19; i++) await hcxLogin(h, 'alice', `wrong-${i}`, attacker(i));
    assert.equal((await hcxLogin(h, 'alice', ALICE.password, '203.0.113.7')).statusCode, 200);
    for (let i = 0; i < 19; i++) await hcxLogin(h, 'alice', `wrong-${i}`, attacker(i + 20));
    assert.deepEqual(await h.p.accounts.lockState('alice'), { count: 19, locked: false, lockedUntil: 0 });
  });

  it('forgets account failures an hour after the first of the run', async () => {
    for (let i = 0; i < 19; i++) await hcxLogin(h, 'alice', `wrong-${i}`, attacker(i));
    clock.advance(60 * MINUTE);
    await hcxLogin(h, 'alice', 'wrong-again', attacker(40));
    assert.deepEqual(await h.p.accounts.lockState('alice'), { count: 1, locked: false, lockedUntil: 0 });
  });

  it('applies to HTTP Basic on HCX protected calls too', async () => {
    const basic = (pw: string, ip: string) =>
      h.app.inject({
        method: 'GET',
        url: '/api/admin/v1/sessions',
        headers: { authorization: `Basic ${Buffer.from(`alice:${pw}`).toString('base64')}`, 'x-forwarded-for': ip },
      });
    await Promise.all(Array.from({ length: 20 }, (_, i) => basic(`wrong-${i}`, attacker(i))));
    assert.equal((await h.p.accounts.lockState('alice')).locked, true);
    assert.equal((await basic(ALICE.password, '203.0.113.7')).statusCode, 401);
  });

  it('records failures with their reason and never the password', async () => {
    await hcxLogin(h, 'alice', 'Secret-Guess-42', attacker(0));
    const [e] = await h.p.audit.query({ kind: 'login.failure' });
    assert.equal(e!.username, 'alice');
    assert.equal(e!.clientAddress, attacker(0));
    assert.equal(e!.dialect, 'hcx');
    assert.equal(e!.detail.reason, 'invalid_credentials');
    assert.match(e!.requestId, /^[0-9a-f-]{36}$/);
    const rows = JSON.stringify(h.p.store.db.prepare('SELECT * FROM audit').all());
    assert.ok(!rows.includes('Secret-Guess-42'));
    assert.ok(!h.logger.text().includes('Secret-Guess-42'));
  });
});

describe('sourceKey', () => {
  it('keeps IPv4 addresses whole and counts IPv6 addresses by their /64, however they are written', async () => {
    const { sourceKey } = await import('../../src/core/sessions.js');
    assert.equal(sourceKey('192.0.2.7'), '192.0.2.7');
    assert.equal(sourceKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
    assert.equal(sourceKey('2001:0DB8:0001:0002:ffff:ffff:ffff:ffff'), '2001:db8:1:2::/64');
    assert.equal(sourceKey('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(sourceKey('::1'), '0:0:0:0::/64');
    assert.notEqual(sourceKey('2001:db8:1:3::1'), sourceKey('2001:db8:1:2::1'));
  });

  it('throttles a whole IPv6 /64 as one source', async () => {
    const clock = new ManualClock(START);
    const h = await harness({ clock, overrides: { trustProxy: true } });
    try {
      await addUser(h, ALICE.username, ALICE.password, ALICE.roles);
      for (let i = 0; i < 10; i++) await hcxLogin(h, 'alice', `wrong-${i}`, `2001:db8:1:2::${(i + 1).toString(16)}`);
      assert.equal((await hcxLogin(h, 'alice', ALICE.password, '2001:db8:1:2:ffff::9')).statusCode, 401, 'another address of the same /64 is throttled');
      assert.equal((await hcxLogin(h, 'alice', ALICE.password, '2001:db8:1:3::9')).statusCode, 200, 'the next /64 is not');
    } finally {
      await h.close();
    }
  });
});

describe('trusted-source bookkeeping', () => {
  it('writes a source\'s last success at most once an hour, so repeated logins cost no extra commit', async () => {
    const clock = new ManualClock(START);
    const h = await harness({ clock, overrides: { trustProxy: true } });
    try {
      await addUser(h, ALICE.username, ALICE.password, ALICE.roles);
      const store = h.p.store;
      const original = store.rememberLoginSource.bind(store);
      let writes = 0;
      store.rememberLoginSource = async (...args) => {
        writes++;
        return original(...args);
      };
      for (let i = 0; i < 5; i++) {
        assert.equal((await hcxLogin(h, ALICE.username, ALICE.password, '192.0.2.7')).statusCode, 200);
        clock.advance(10 * MINUTE);
      }
      assert.equal(writes, 1, 'first login remembered, the next four within the hour not rewritten');
      clock.advance(20 * MINUTE);
      assert.equal((await hcxLogin(h, ALICE.username, ALICE.password, '192.0.2.7')).statusCode, 200);
      assert.equal(writes, 2, 'refreshed once the hour has passed');
      assert.equal((await hcxLogin(h, ALICE.username, ALICE.password, '192.0.2.8')).statusCode, 200);
      assert.equal(writes, 3, 'a new source is remembered at once');
    } finally {
      await h.close();
    }
  });
});
