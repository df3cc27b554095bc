import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { harness, type Harness } from '../helpers.js';
import { haveSlapd, PEOPLE, seedVsphere, SERVICE_DN, SERVICE_PW, startSlapd, SUFFIX, type Slapd } from '../identity/slapd.js';

/*
 * vCenter logins against the directory, its default identity source, on the suite's
 * real slapd seeded like vsphere.local: the name forms vCenter users type, the
 * directory's own refusals, the same person through HCX's `vsphere` auth type, and
 * the directory down.
 */

const AT = String.fromCharCode(64);
const AUTH_REQUIRED = { id: 'com.vmware.vapi.endpoint.method.authentication.required', default_message: 'Authentication required.', args: [] };
const API_401 = { error_type: 'UNAUTHENTICATED', messages: [AUTH_REQUIRED], challenge: 'Basic realm="vCenter"' };

let s: Slapd;

function ldapConfig(over: Record<string, unknown> = {}) {
  return {
    url: s.url,
    bindDN: SERVICE_DN,
    bindPassword: SERVICE_PW,
    userBase: `ou=Users,${SUFFIX}`,
    groups: { base: `ou=Groups,${SUFFIX}` },
    groupRoles: { Administrators: ['System Administrator'], hcxops: ['Enterprise Administrator'] },
    disabledWhen: [{ attribute: 'pwdAccountLockedTime' }, { attribute: 'employeeType', equals: 'disabled' }],
    connectTimeoutMs: 1000,
    timeoutMs: 1500,
    poolSize: 2,
    ...over,
  };
}

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
}

function json(res: LightMyRequestResponse): any {
  return JSON.parse(res.body);
}

function login(h: Harness, user: string, password: string) {
  return h.app.inject({ method: 'POST', url: '/api/session', headers: { authorization: basic(user, password) } });
}

before(async () => {
  const missing = haveSlapd();
  assert.equal(missing, undefined, `${missing}`);
  s = await startSlapd();
  await seedVsphere(s);
});

after(async () => {
  await s?.destroy();
});

describe('vCenter logins through the directory (vcenter.domains: { vsphere.local: ldap })', () => {
  let h: Harness;
  before(async () => {
    h = await harness({ overrides: { 'identity.ldap': ldapConfig(), 'vcenter.domains': { 'vsphere.local': 'ldap' } } });
  });
  after(() => h.close());

  it('logs alice in under every form she may type, as the directory user HCX\'s vsphere auth type knows as alice, shown fully qualified', async () => {
    const hcx = await h.app.inject({ method: 'POST', url: '/api/admin/v1/sessions', payload: { authType: 'vsphere', username: 'alice', password: PEOPLE.alice.password } });
    assert.equal(hcx.statusCode, 200, hcx.body);
    const person = (await h.p.sessions.authenticate(String(hcx.headers['x-hm-authorization']), false))!.username;
    for (const typed of [`alice${AT}vsphere.local`, 'VSPHERE.LOCAL\\alice', `alice${AT}VSPHERE.LOCAL`, 'alice']) {
      const res = await login(h, typed, PEOPLE.alice.password);
      assert.equal(res.statusCode, 201, `${typed}: ${res.body}`);
      const token = JSON.parse(res.body) as string;
      const s = await h.p.sessions.authenticate(token, false);
      assert.equal(s?.username, person, typed);
      assert.equal(s?.authSource, 'ldap');
      const get = await h.app.inject({ method: 'GET', url: '/api/session', headers: { 'vmware-api-session-id': token } });
      assert.equal(json(get).user, `alice${AT}vsphere.local`);
    }
  });

  it('follows the directory\'s nested groups to a vCenter role (bob: HcxOps in CloudAdmins in Administrators)', async () => {
    assert.equal((await login(h, `bob${AT}vsphere.local`, PEOPLE.bob.password)).statusCode, 201);
  });

  it('refuses a directory user whose groups map to no role with 403 UNAUTHORIZED', async () => {
    const res = await login(h, `carol${AT}vsphere.local`, PEOPLE.carol.password);
    assert.equal(res.statusCode, 403, res.body);
    assert.equal(json(res).error_type, 'UNAUTHORIZED');
  });

  it('answers a wrong password, a locked or disabled entry, an unknown user and an unlisted domain alike (401)', async () => {
    for (const [user, password] of [
      [`alice${AT}vsphere.local`, 'Not-Alice-1'],
      [`dave${AT}vsphere.local`, PEOPLE.dave.password],
      [`erin${AT}vsphere.local`, PEOPLE.erin.password],
      [`nobody${AT}vsphere.local`, 'Whatever-1'],
      // Not in vcenter.domains: passed as typed to the directory, which accepts no domain (identity.ldap.domains unset).
      [`alice${AT}evil.example`, PEOPLE.alice.password],
      ['EVIL\\alice', PEOPLE.alice.password],
    ] as const) {
      const res = await login(h, user, password);
      assert.equal(res.statusCode, 401, `${user}: ${res.body}`);
      assert.deepEqual(json(res), API_401, user);
    }
  });

  it('shares the person with HCX\'s vsphere auth type: an HCX token of alice is her vCenter session, and the reverse', async () => {
    const hcx = await h.app.inject({ method: 'POST', url: '/api/admin/v1/sessions', payload: { authType: 'vsphere', username: 'alice', password: PEOPLE.alice.password } });
    assert.equal(hcx.statusCode, 200, hcx.body);
    const get = await h.app.inject({ method: 'GET', url: '/api/session', headers: { 'vmware-api-session-id': String(hcx.headers['x-hm-authorization']) } });
    assert.equal(get.statusCode, 200, get.body);
    assert.equal(json(get).user, `alice${AT}vsphere.local`);
    const vc = JSON.parse((await login(h, 'VSPHERE.LOCAL\\alice', PEOPLE.alice.password)).body) as string;
    const who = await h.app.inject({ method: 'GET', url: '/api/admin/v1/sessions', headers: { 'x-hm-authorization': vc } });
    assert.equal(who.statusCode, 200, who.body);
    // One person: HCX names the vCenter session's user exactly as it names its own vsphere login of alice.
    const hcxOwn = await h.app.inject({ method: 'GET', url: '/api/admin/v1/sessions', headers: { 'x-hm-authorization': String(hcx.headers['x-hm-authorization']) } });
    assert.equal(json(who).data.user.username, json(hcxOwn).data.user.username);
    assert.match(json(who).data.user.username, /alice/);
  });

  it('answers 503 SERVICE_UNAVAILABLE (no host, no port) while the directory is down, and logs in again once it is back', async () => {
    await s.stop();
    try {
      const res = await login(h, `alice${AT}vsphere.local`, PEOPLE.alice.password);
      assert.equal(res.statusCode, 503, res.body);
      assert.equal(json(res).error_type, 'SERVICE_UNAVAILABLE');
      assert.doesNotMatch(res.body, /127\.0\.0\.1|ldap:|ECONNREFUSED/);
    } finally {
      await s.start();
    }
    const again = await login(h, `alice${AT}vsphere.local`, PEOPLE.alice.password);
    assert.equal(again.statusCode, 201, again.body);
  });
});

describe('vCenter logins through the directory with the default vcenter section and identity.domains', () => {
  let h: Harness;
  before(async () => {
    h = await harness({ overrides: { 'identity.domains': ['vsphere.local', 'VSPHERE.LOCAL'], 'identity.ldap': ldapConfig({ domains: ['corp.example'] }) } });
  });
  after(() => h.close());

  it('passes names as typed: the directory accepts the configured domains, all one person, shown under the first domain', async () => {
    const names = new Set<string>();
    for (const typed of [`alice${AT}vsphere.local`, 'VSPHERE.LOCAL\\alice', `alice${AT}corp.example`, 'CORP.EXAMPLE\\alice', 'alice']) {
      const ok = await login(h, typed, PEOPLE.alice.password);
      assert.equal(ok.statusCode, 201, `${typed}: ${ok.body}`);
      const token = JSON.parse(ok.body) as string;
      names.add((await h.p.sessions.authenticate(token, false))!.username);
      const get = await h.app.inject({ method: 'GET', url: '/api/session', headers: { 'vmware-api-session-id': token } });
      assert.equal(get.statusCode, 200, get.body);
      assert.equal(json(get).user, `alice${AT}vsphere.local`);
    }
    assert.equal(names.size, 1, `one identity for every spelling: ${[...names].join(', ')}`);
    const bad = await login(h, `alice${AT}other.example`, PEOPLE.alice.password);
    assert.deepEqual(json(bad), API_401);
  });
});
