import { describe, it, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { ADMIN_ROLES, addUser, harness, type Harness } from '../helpers.js';
import { havePostgres, haveRedis, startPostgres, startRedis, type TestPostgres, type TestRedis } from '../servers.js';
import { haveSlapd, PEOPLE, SERVICE_DN, SERVICE_PW, SUFFIX, seedVsphere, startSlapd, type Slapd } from './slapd.js';

/*
 * One person, one name (issue 19, README "Identities"), against the suite's real
 * slapd, on every store layout: spelling a name differently buys no extra guess
 * and keeps no session alive.
 */

const CTX = { requestId: 'test', clientAddress: '127.0.0.1', dialect: 'cli' };
const ALICE_PW = PEOPLE.alice.password;

let slapd: Slapd;
let pg: TestPostgres | undefined;
let redis: TestRedis | undefined;

const LAYOUTS: { name: string; skip: string | undefined; overrides: () => Promise<Record<string, unknown>> }[] = [
  { name: 'SQLite', skip: undefined, overrides: async () => ({}) },
  { name: 'PostgreSQL', skip: havePostgres(), overrides: async () => ({ store: 'postgres', 'postgres.url': await pg!.newDatabase() }) },
  {
    name: 'PostgreSQL + Redis',
    skip: havePostgres() ?? haveRedis(),
    overrides: async () => ({ store: 'postgres', sessions: 'redis', 'postgres.url': await pg!.newDatabase(), 'redis.url': await redis!.newDatabase() }),
  },
];

before(async () => {
  const missing = haveSlapd();
  assert.equal(missing, undefined, `${missing}`);
  slapd = await startSlapd();
  await seedVsphere(slapd);
  if (!havePostgres()) pg = await startPostgres();
  if (!havePostgres() && !haveRedis()) redis = await startRedis();
});

after(async () => {
  await Promise.all([slapd?.destroy(), pg?.destroy(), redis?.destroy()]);
});

function identityHarness(layout: Record<string, unknown>, more: Record<string, unknown> = {}): Promise<Harness> {
  return harness({
    overrides: {
      ...layout,
      trustProxy: true,
      'identity.domains': ['vsphere.local', 'VSPHERE'],
      'identity.ldap': {
        url: slapd.url,
        bindDN: SERVICE_DN,
        bindPassword: SERVICE_PW,
        userBase: `ou=Users,${SUFFIX}`,
        groups: { base: `ou=Groups,${SUFFIX}` },
        groupRoles: { Administrators: ['System Administrator'] },
        poolSize: 2,
      },
      'hcx.authTypes': { local: 'local', vsphere: 'ldap' },
      'lxca.provider': ['local', 'ldap'],
      ...more,
    },
  });
}

const ip = (i: number) => `198.51.100.${i + 1}`;

/** HCX appliance API login (authType vsphere → the directory, local → local accounts). */
function hcx(h: Harness, username: string, password: string, opts: { ip?: string; authType?: string } = {}) {
  return h.app.inject({
    method: 'POST',
    url: '/api/admin/v1/sessions',
    headers: { 'x-forwarded-for': opts.ip ?? '203.0.113.1' },
    payload: { authType: opts.authType ?? 'vsphere', username, password },
  });
}

/** HCX's older login path. */
function hybridity(h: Harness, username: string, password: string, opts: { ip?: string; authType?: string } = {}) {
  return h.app.inject({
    method: 'POST',
    url: '/hybridity/api/sessions',
    headers: { 'x-forwarded-for': opts.ip ?? '203.0.113.2' },
    payload: { authType: opts.authType ?? 'vsphere', username, password },
  });
}

/** XClarity login (provider [local, ldap]). */
function lxca(h: Harness, username: string, password: string, opts: { ip?: string } = {}) {
  return h.app.inject({ method: 'POST', url: '/sessions', headers: { 'x-forwarded-for': opts.ip ?? '203.0.113.3' }, payload: { UserId: username, password } });
}

/** The bearer token a successful login handed out, whichever dialect. */
function tokenOf(res: LightMyRequestResponse): string {
  assert.equal(res.statusCode, 200, res.body);
  const h = res.headers['x-hm-authorization'];
  if (typeof h === 'string') return h;
  const cookies = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
  const c = cookies.find((x) => x.startsWith('JSESSIONID='));
  assert.ok(c, 'a session cookie');
  return c.slice('JSESSIONID='.length).split(';')[0]!;
}

/** Status and body without the timestamp: what a client can compare. */
function shape(res: LightMyRequestResponse) {
  const b = JSON.parse(res.body) as Record<string, unknown>;
  delete b.time;
  return { status: res.statusCode, body: b };
}

async function alive(h: Harness, tokens: string[]): Promise<boolean[]> {
  return Promise.all(tokens.map(async (t) => (await h.p.sessions.authenticate(t, false)) !== null));
}

for (const layout of LAYOUTS) {
  describe(`one person, one name (${layout.name})`, { skip: layout.skip }, () => {
    let h: Harness;
    afterEach(() => h?.close());

    describe('lockout', () => {
      beforeEach(async () => {
        h = await identityHarness(await layout.overrides());
      });

      it('locks the directory account after 20 failures spread over case and domain spellings from 20 addresses; the 21st, right, in yet another spelling is refused like any locked login', async () => {
        const spellings = ['alice', 'ALICE', 'Alice', 'aLiCe', 'alice@vsphere.local', 'ALICE@VSPHERE.LOCAL', 'VSPHERE.LOCAL\\alice', 'vsphere\\Alice', 'AlIcE@vsphere', 'alicE'];
        for (let i = 0; i < 20; i++) {
          const name = spellings[i % spellings.length]!;
          const res = i % 2 === 0 ? await hcx(h, name, `Wrong-${i}`, { ip: ip(i) }) : await lxca(h, name, `Wrong-${i}`, { ip: ip(i) });
          assert.ok([401, 403].includes(res.statusCode), `${name}: ${res.statusCode} ${res.body}`);
        }
        const state = await h.p.accounts.lockState('Alice@VSPHERE.local');
        assert.equal(state.count, 20, 'one counter for every spelling');
        assert.equal(state.locked, true);

        const wrongHcx = shape(await hcx(h, 'bob', 'Not-Bobs-Pass-1', { ip: ip(40) }));
        const lockedHcx = shape(await hcx(h, 'Vsphere.Local\\ALICE', ALICE_PW, { ip: ip(20) }));
        assert.equal(lockedHcx.status, 401);
        assert.deepEqual(lockedHcx, wrongHcx, 'a locked account answers exactly like a wrong password');
        const wrongLxca = shape(await lxca(h, 'bob', 'Not-Bobs-Pass-1', { ip: ip(41) }));
        const lockedLxca = shape(await lxca(h, 'aLICE', ALICE_PW, { ip: ip(21) }));
        assert.deepEqual(lockedLxca, wrongLxca);
        assert.equal((await hcx(h, 'bob', PEOPLE.bob.password, { ip: ip(42) })).statusCode, 200, 'another user is not affected');

        const locks = await h.p.audit.query({ kind: 'account.lock' });
        assert.equal(locks.length, 1, 'exactly one lock');
        assert.equal(locks[0]!.username, 'ldap:alice', 'the lock is audited under the canonical identity');
        const refusals = (await h.p.audit.query({ kind: 'login.failure' })).filter((e) => e.username === 'ldap:alice');
        assert.equal(refusals.length, 22);
        assert.deepEqual(new Set(refusals.slice(0, 10).map((e) => e.detail.typed)), new Set(spellings), 'what was typed is kept');
        assert.equal(refusals.at(-1)!.detail.reason, 'account_locked');
      });

      it('counts a failure against the entry the directory found, when the typed name (an e-mail address, no configured domain) folds elsewhere', async () => {
        await h.close();
        h = await identityHarness(await layout.overrides(), { 'identity.domains': [], 'identity.ldap.userFilter': '(&(objectClass=inetOrgPerson)(|(uid={username})(mail={username})))' });
        for (let i = 0; i < 20; i++) await hcx(h, i % 2 ? 'alice@vsphere.local' : 'ALICE', `Wrong-${i}`, { ip: ip(i) });
        assert.equal((await h.p.accounts.lockState('alice@vsphere.local')).count, 10, 'the typed key counts its own spelling');
        const state = await h.p.accounts.lockState('alice');
        assert.deepEqual([state.count, state.locked], [20, true], 'the canonical key counts both');
        assert.equal((await hcx(h, 'alice@vsphere.local', ALICE_PW, { ip: ip(30) })).statusCode, 401, 'the lock holds through the other spelling');
      });

      it('unlocks every spelling at once, and a successful login resets the one counter', async () => {
        for (let i = 0; i < 5; i++) await hcx(h, ['ALICE', 'alice@vsphere.local'][i % 2]!, 'Wrong-1', { ip: ip(i) });
        assert.equal((await h.p.accounts.lockState('alice')).count, 5);
        assert.equal((await hcx(h, 'VSPHERE\\alice', ALICE_PW, { ip: ip(9) })).statusCode, 200);
        assert.equal((await h.p.accounts.lockState('ALICE')).count, 0);
      });
    });

    describe('sessions', () => {
      beforeEach(async () => {
        h = await identityHarness(await layout.overrides(), { 'accountSettings.MaxConcurrentSessions': 3 });
        await addUser(h, 'carl', 'Carl-Pass-1', ADMIN_ROLES);
      });

      it('lists sessions made as alice, ALICE and alice@vsphere.local in HCX, HCX hybridity and XClarity as one user, counts them for MaxConcurrentSessions, and ends them all with one revocation', async () => {
        const tokens = [tokenOf(await hcx(h, 'alice', ALICE_PW)), tokenOf(await hybridity(h, 'ALICE', ALICE_PW)), tokenOf(await lxca(h, 'alice@vsphere.local', ALICE_PW))];
        const fourth = await hcx(h, 'VSPHERE\\alice', ALICE_PW);
        assert.notEqual(fourth.statusCode, 200, 'the limit (3) counts every spelling together');
        const fifth = await lxca(h, 'Alice', ALICE_PW);
        assert.notEqual(fifth.statusCode, 200);

        const listed = await h.p.sessions.listSessions({ username: 'ldap:alice' });
        assert.deepEqual(listed.map((s) => s.username), ['ldap:alice', 'ldap:alice', 'ldap:alice']);
        assert.deepEqual(new Set(listed.map((s) => s.dialect)), new Set(['hcx', 'lxca']));
        const lx = await h.app.inject({ method: 'GET', url: '/sessions', cookies: { JSESSIONID: tokens[2]! } });
        assert.equal(lx.statusCode, 200, lx.body);
        const entries = (JSON.parse(lx.body) as { response: { UserId: string }[] }).response;
        assert.deepEqual(entries.map((e) => e.UserId), ['ldap:alice', 'ldap:alice', 'ldap:alice'], 'XClarity lists one user');

        const audit = (await h.p.audit.query({ kind: 'login.success' })).filter((e) => e.username === 'ldap:alice');
        assert.deepEqual(audit.map((e) => e.detail.typed), ['alice', 'ALICE', 'alice@vsphere.local'], 'the audit shows the identity and what was typed');
        const refused = (await h.p.audit.query({ kind: 'login.failure' })).filter((e) => e.detail.reason === 'too_many_sessions');
        assert.deepEqual(refused.map((e) => [e.username, e.detail.typed]), [['ldap:alice', 'VSPHERE\\alice'], ['ldap:alice', 'Alice']]);

        assert.equal(await h.p.sessions.revokeUserSessions('ldap:alice', CTX, 'test'), 3);
        assert.deepEqual(await alive(h, tokens), [false, false, false]);
        assert.equal((await hcx(h, 'alice', ALICE_PW)).statusCode, 200, 'and the user may log in again');
      });

      it('ends every session of a local account, whichever case it was typed in, with one password change and with one disable', async () => {
        const three = async (pw: string) => [
          tokenOf(await hcx(h, 'carl', pw, { authType: 'local' })),
          tokenOf(await hybridity(h, 'CARL', pw, { authType: 'local' })),
          tokenOf(await lxca(h, 'Carl', pw)),
        ];
        let tokens = await three('Carl-Pass-1');
        assert.notEqual((await hcx(h, 'cArL', 'Carl-Pass-1', { authType: 'local' })).statusCode, 200, 'MaxConcurrentSessions counts them together');
        assert.deepEqual((await h.p.sessions.listSessions({ username: 'local:carl' })).map((s) => s.username), ['carl', 'carl', 'carl']);

        await h.p.accounts.setPassword('carl', 'Carl-Pass-2', { mustChange: false });
        assert.deepEqual(await alive(h, tokens), [false, false, false], 'one password change');

        tokens = await three('Carl-Pass-2');
        await h.p.accounts.setDisabled('carl', true);
        assert.deepEqual(await alive(h, tokens), [false, false, false], 'one disable');
        await h.p.accounts.setDisabled('carl', false);

        tokens = await three('Carl-Pass-2');
        assert.equal(await h.p.sessions.revokeUserSessions('local:carl', CTX, 'test'), 3);
        assert.deepEqual(await alive(h, tokens), [false, false, false], 'one revocation');
      });

      it('keeps ldap:alice and the local alice apart in a [local, ldap] chain: listed as two users, revoked apart, never merged', async () => {
        await addUser(h, 'alice', 'Local-Alice-Pass-1', ADMIN_ROLES);
        const local = tokenOf(await lxca(h, 'ALICE', 'Local-Alice-Pass-1'));
        const directory = tokenOf(await hcx(h, 'alice', ALICE_PW));
        assert.equal((await lxca(h, 'alice', ALICE_PW)).statusCode === 200, false, 'the chain stops at the local account: the directory password does not open it');
        const users = (await h.p.sessions.listSessions()).map((s) => `${s.username}/${s.authSource}`).sort();
        assert.deepEqual(users, ['alice/local', 'ldap:alice/ldap']);
        assert.equal(await h.p.sessions.revokeUserSessions('ldap:alice', CTX, 'test'), 1);
        assert.deepEqual(await alive(h, [local, directory]), [true, false]);
        assert.equal(await h.p.sessions.revokeUserSessions('local:alice', CTX, 'test'), 1);
        assert.deepEqual(await alive(h, [local]), [false]);
      });
    });
  });
}
