import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { escapeFilterValue, fillFilter, firstRdnValue, splitUsername } from '../../src/adapters/identity/ldap/filter.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { ChainProvider } from '../../src/identity/chain.js';
import { mapGroups } from '../../src/identity/mapping.js';
import type { CheckOutcome, CheckingProvider } from '../../src/identity/outcome.js';
import { IdentitySourceError, type Principal } from '../../src/ports/identity.js';

const AT = String.fromCharCode(64);

describe('RFC 4515 filter escaping', () => {
  it('escapes the five special characters and nothing else', () => {
    assert.equal(escapeFilterValue('*)(uid=*'), '\\2a\\29\\28uid=\\2a');
    assert.equal(escapeFilterValue('a\\b'), 'a\\5cb');
    assert.equal(escapeFilterValue('nul\u0000'), 'nul\\00');
    assert.equal(escapeFilterValue('Jürgen O’Brien'), 'Jürgen O’Brien');
  });

  it('fills every placeholder escaped, so input cannot change the filter structure', () => {
    assert.equal(fillFilter('(&(objectClass=person)(uid={user}))', { user: '*)(|(uid=*' }), '(&(objectClass=person)(uid=\\2a\\29\\28|\\28uid=\\2a))');
    assert.equal(fillFilter('(|(member={dn})(uniqueMember={dn}))', { dn: 'cn=a\\,b,dc=x' }), '(|(member=cn=a\\5c,b,dc=x)(uniqueMember=cn=a\\5c,b,dc=x))');
    assert.throws(() => fillFilter('(uid={user})', {}), /no value/);
  });

  it('splits user names with a domain', () => {
    assert.deepEqual(splitUsername(`alice${AT}vsphere.local`), { user: 'alice', domain: 'vsphere.local' });
    assert.deepEqual(splitUsername('VSPHERE\\alice'), { user: 'alice', domain: 'VSPHERE' });
    assert.deepEqual(splitUsername('alice'), { user: 'alice', domain: '' });
  });

  it('reads the first RDN value of a DN, undoing RFC 4514 escapes', () => {
    assert.equal(firstRdnValue('cn=Admins,ou=Groups,dc=x'), 'Admins');
    assert.equal(firstRdnValue('cn=Smith\\, John,ou=x'), 'Smith, John');
    assert.equal(firstRdnValue('cn=J\\C3\\BCrgen,ou=x'), 'Jürgen');
    assert.equal(firstRdnValue('CN=Domain Admins+uid=7,DC=corp'), 'Domain Admins');
  });
});

describe('group mapping', () => {
  const m = { groupRoles: { Admins: ['System Administrator'], 'cn=ops,dc=x': ['Enterprise Administrator'], Auditors: ['Auditor'] }, groupOrganizations: {}, defaultOrganizations: ['DEFAULT'] };

  it('matches group names or DNs ignoring case, in configuration order, without duplicates', () => {
    assert.deepEqual(mapGroups([['ops', 'CN=Ops,DC=X'], ['admins', 'cn=admins,dc=x'], ['ADMINS']], m).roles, ['System Administrator', 'Enterprise Administrator']);
  });

  it('gives no role for unmapped groups and the default organizations', () => {
    assert.deepEqual(mapGroups([['users']], m), { roles: [], organizations: ['DEFAULT'] });
  });
});

function fake(name: string, answers: Record<string, CheckOutcome | Error>, calls: string[]): CheckingProvider {
  const check = async (u: string): Promise<CheckOutcome> => {
    calls.push(`${name}:${u}`);
    const a = answers[u] ?? { ok: false, reason: 'unknown_user' };
    if (a instanceof Error) throw a;
    return a;
  };
  return { name, check, authenticate: async (u) => {
    const o = await check(u);
    return o.ok ? o : { ok: false, reason: o.reason === 'unknown_user' ? 'invalid_credentials' : o.reason };
  } };
}

const principal = (source: string): Principal => ({ username: 'x', roles: ['r'], organizations: ['o'], enterprise: 'e', mustChangePassword: false, source, authServer: source });

describe('a chain of identity sources', () => {
  it('asks the next source only for names the previous one does not know', async () => {
    const calls: string[] = [];
    const chain = new ChainProvider('local,ldap', [
      fake('local', { known: { ok: false, reason: 'invalid_credentials' }, off: { ok: false, reason: 'disabled' }, me: { ok: true, principal: principal('local') } }, calls),
      fake('ldap', { dir: { ok: true, principal: principal('ldap') }, known: { ok: true, principal: principal('ldap') } }, calls),
    ]);
    assert.equal((await chain.authenticate('known', 'p')).ok, false, 'a known local name is never handed to the directory');
    assert.equal((await chain.authenticate('off', 'p')).ok, false);
    const me = await chain.authenticate('me', 'p');
    assert.equal(me.ok && me.principal.source, 'local');
    const dir = await chain.authenticate('dir', 'p');
    assert.equal(dir.ok && dir.principal.source, 'ldap');
    assert.deepEqual(await chain.authenticate('nobody', 'p'), { ok: false, reason: 'invalid_credentials' });
    assert.deepEqual(calls, ['local:known', 'local:off', 'local:me', 'local:dir', 'ldap:dir', 'local:nobody', 'ldap:nobody']);
  });

  it('fails with a source error when a source asked cannot answer, never falling through', async () => {
    const calls: string[] = [];
    const chain = new ChainProvider('ldap,local', [fake('ldap', { u: new IdentitySourceError('ldap', 'down') }, calls), fake('local', {}, calls)]);
    await assert.rejects(chain.authenticate('u', 'p'), IdentitySourceError);
    assert.deepEqual(calls, ['ldap:u']);
  });
});

describe('identity configuration', () => {
  const base = { bindDN: 'cn=svc,dc=x', bindPassword: 'pw', userBase: 'dc=x' };
  const load = (overrides: Record<string, unknown>) => loadConfig({ env: {}, overrides });

  it('defaults vsphere to the ldap provider and accepts provider lists', () => {
    const c = load({ 'lxca.provider': ['local', 'ldap'] });
    assert.equal(c.hcx.authTypes.vsphere, 'ldap');
    assert.equal(c.lxca.provider, 'local,ldap');
    assert.equal(c.identity.pam, undefined);
    assert.equal(c.identity.ldap, undefined);
  });

  it('documents its timeouts: 3 s to connect, 5 s per operation and login, pools of 4; PAM 4 at once', () => {
    const c = load({ 'identity.ldap': { ...base, url: 'ldaps://dc.example' }, 'identity.pam': {} });
    assert.equal(c.identity.ldap!.connectTimeoutMs, 3000);
    assert.equal(c.identity.ldap!.timeoutMs, 5000);
    assert.equal(c.identity.ldap!.poolSize, 4);
    assert.deepEqual(c.identity.ldap!.url, ['ldaps://dc.example']);
    assert.equal(c.identity.pam!.service, 'portcullis');
    assert.equal(c.identity.pam!.maxConcurrent, 4);
  });

  const bad: [string, Record<string, unknown>, RegExp][] = [
    ['plain ldap:// to another host', { url: 'ldap://dc.example' }, /identity\.ldap\.url: plain ldap/],
    ['a filter without a placeholder', { url: 'ldaps://dc.example', userFilter: '(uid=alice)' }, /userFilter must use/],
    ['StartTLS on ldaps://', { url: 'ldaps://dc.example', startTls: true }, /startTls is for ldap/],
    ['a URL with a path', { url: 'ldaps://dc.example/dc=x' }, /must be ldap:\/\/host/],
  ];
  for (const [what, ldap, msg] of bad) {
    it(`refuses ${what}, naming the key`, () => {
      assert.throws(() => load({ 'identity.ldap': { ...base, ...ldap } }), (e: unknown) => e instanceof ConfigError && msg.test(e.message));
    });
  }

  it('refuses both a password and a password file, and a provider list naming one twice', () => {
    assert.throws(() => load({ 'identity.ldap': { ...base, url: 'ldaps://x', bindPasswordFile: '/x' } }), /exactly one of bindPassword/);
    assert.throws(() => load({ 'lxca.provider': ['ldap', 'ldap'] }), /must not name a provider twice/);
  });
});
