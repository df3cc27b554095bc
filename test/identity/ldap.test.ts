import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LightMyRequestResponse } from 'fastify';
import { Attribute, Change, Client } from 'ldapts';
import { addUser, harness, tempDir, type Harness } from '../helpers.js';
import { haveSlapd, PEOPLE, seedVsphere, SERVICE_DN, SERVICE_PW, startSlapd, SUFFIX, type Slapd } from './slapd.js';

/*
 * The LDAP identity source against a real, private slapd seeded like vsphere.local:
 * logins through HCX `authType: vsphere` and XClarity (local first, then LDAP),
 * nested groups, disabled accounts, filter injection, the directory stopped or
 * frozen mid-run, StartTLS and ldaps with a CA made for the run.
 */

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TIMEOUT_MS = 1500;
const CONNECT_TIMEOUT_MS = 1000;
/** Slack for a loaded CI machine on top of the configured timeout. */
const SLACK_MS = 1500;
/** '@', spelled out so no tool rewrites the addresses below. */
const AT = String.fromCharCode(64);

const SEED_500 = { errorCode: 'INTERNAL_SERVER_ERROR', error: 'Exception while performing auth' };
const SEED_401 = { errorCode: 'INVALID_CREDENTIALS', error: 'Invalid username or password.' };
const SEED_403 = { errorCode: 'NOT_ENOUGH_PRIVILEGES', error: 'Access Denied' };

let s: Slapd;

function ldapConfig(over: Record<string, unknown> = {}) {
  return {
    url: s.url,
    bindDN: SERVICE_DN,
    bindPassword: SERVICE_PW,
    userBase: `ou=Users,${SUFFIX}`,
    groups: { base: `ou=Groups,${SUFFIX}` },
    groupRoles: { Administrators: ['System Administrator'], hcxops: ['Enterprise Administrator'] },
    groupOrganizations: { CloudAdmins: ['CLOUD'], [`cn=Administrators,ou=Groups,${SUFFIX}`]: ['DEFAULT'] },
    disabledWhen: [{ attribute: 'pwdAccountLockedTime' }, { attribute: 'employeeType', equals: 'disabled' }],
    connectTimeoutMs: CONNECT_TIMEOUT_MS,
    timeoutMs: TIMEOUT_MS,
    poolSize: 2,
    ...over,
  };
}

function ldapHarness(over: Record<string, unknown> = {}, more: Record<string, unknown> = {}): Promise<Harness> {
  // These suites make dozens of refused logins from one address on purpose (filter injection); the
  // brute-force throttle (tested in test/core/brute-force.test.ts) is raised so it does not interfere.
  const lenient = { 'accountSettings.MaximumLoginFailures': 100, 'accountSettings.LockoutTime': 0, 'bruteForce.sourceMaxFailures': 50 };
  return harness({ overrides: { 'identity.ldap': ldapConfig(over), 'hcx.authTypes': { local: 'local', vsphere: 'ldap' }, ...lenient, ...more } });
}

function vsphere(h: Harness, username: string, password: string) {
  return h.app.inject({ method: 'POST', url: '/api/admin/v1/sessions', payload: { authType: 'vsphere', username, password } });
}

function json(res: LightMyRequestResponse): Record<string, any> {
  return JSON.parse(res.body) as Record<string, any>;
}

function assertSeedError(res: LightMyRequestResponse, status: number, seed: { errorCode: string; error: string }) {
  assert.equal(res.statusCode, status, res.body);
  const b = json(res);
  assert.equal(b.success, false);
  assert.equal(b.errorCode, seed.errorCode);
  assert.equal(b.error, seed.error);
  assert.equal(res.headers['x-hm-authorization'], undefined);
}

function sourceErrors(h: Harness): string[] {
  return h.logger.lines.filter((l) => (l.obj as { event?: string }).event === 'login.source_error').map((l) => String((l.obj as { err?: string }).err ?? l.msg));
}

function failureReasons(h: Harness): string[] {
  return h.logger.lines.filter((l) => (l.obj as { event?: string }).event === 'login.failure').map((l) => String((l.obj as { reason?: string }).reason));
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

describe('LDAP logins through HCX authType "vsphere"', () => {
  let h: Harness;
  before(async () => {
    h = await ldapHarness();
  });
  after(async () => {
    await h.close();
  });

  it('logs a directory user in with the roles and organizations mapped from their groups, in the seed 200 body', async () => {
    const res = await vsphere(h, 'alice', PEOPLE.alice.password);
    assert.equal(res.statusCode, 200, res.body);
    const b = json(res);
    assert.equal(b.success, true);
    assert.deepEqual(b.data.user.roles, ['System Administrator']);
    assert.deepEqual(b.data.user.organization, ['DEFAULT']);
    assert.equal(b.data.user.currentOrganization, 'DEFAULT');
    assert.equal(b.data.user.username, 'ldap:alice', 'the canonical identity (README "Identities")');
    assert.deepEqual(b.data.organizations, [{ name: 'DEFAULT', id: 'default-org-id' }]);
    assert.match(String(res.headers['x-hm-authorization']), /^[A-Za-z0-9_-]{43}$/);
    const [session] = await h.p.sessions.listSessions({ username: 'ldap:alice' });
    assert.equal(session?.authSource, 'ldap');
    assert.equal(session?.authServer, '127.0.0.1');
  });

  it('follows nested groups (HcxOps ⊂ CloudAdmins ⊂ Administrators) and keeps the configured order', async () => {
    const res = await vsphere(h, 'bob', PEOPLE.bob.password);
    assert.equal(res.statusCode, 200, res.body);
    const b = json(res);
    assert.deepEqual(b.data.user.roles, ['System Administrator', 'Enterprise Administrator']);
    assert.deepEqual(b.data.user.organization, ['CLOUD', 'DEFAULT']);
    assert.deepEqual(b.data.organizations, [{ name: 'CLOUD', id: 'cloud-org-id' }, { name: 'DEFAULT', id: 'default-org-id' }]);
  });

  it('answers a wrong password and an unknown user with the same seed 401', async () => {
    assertSeedError(await vsphere(h, 'alice', 'Wrong-Pass-1'), 401, SEED_401);
    assertSeedError(await vsphere(h, 'nobody', 'Wrong-Pass-1'), 401, SEED_401);
    assertSeedError(await vsphere(h, `alice${AT}other.example`, PEOPLE.alice.password), 401, SEED_401);
  });

  it('refuses an authenticated user whose groups map to no role with the seed 403 (group cycles are harmless)', async () => {
    assertSeedError(await vsphere(h, 'carol', PEOPLE.carol.password), 403, SEED_403);
  });

  it('refuses disabled accounts even where the directory would accept the bind', async () => {
    const direct = new Client({ url: s.url, timeout: 3000 });
    await direct.bind(`uid=dave,ou=Users,${SUFFIX}`, PEOPLE.dave.password); // slapd itself lets dave in
    await direct.unbind();
    const before = failureReasons(h).length;
    assertSeedError(await vsphere(h, 'dave', PEOPLE.dave.password), 401, SEED_401);
    assertSeedError(await vsphere(h, 'erin', PEOPLE.erin.password), 401, SEED_401);
    assert.deepEqual(failureReasons(h).slice(before), ['disabled', 'disabled']);
  });

  it('escapes filter input (RFC 4515): injection attempts authenticate nobody, odd but real names still work', async () => {
    const attempts = ['*', '*)(uid=*', 'alice)(|(uid=*', 'a*', '*)(objectClass=*', 'alice)(&', '\\2a', '(uid=alice)', 'alice\u0000'.slice(0, 5) + '*'];
    for (const name of attempts) {
      for (const password of [PEOPLE.alice.password, PEOPLE.bob.password, 'x']) {
        const res = await vsphere(h, name, password);
        assert.equal(res.statusCode, 401, `${name} / ${password}: ${res.body}`);
      }
    }
    assert.equal(sourceErrors(h).length, 0, 'no attempt may break the filter into a source error');
    const res = await vsphere(h, 'o*brien', PEOPLE['o*brien'].password);
    assert.equal(res.statusCode, 200, res.body);
  });

  it('never sends an empty password (an anonymous bind would succeed)', async () => {
    const ldap = h.p.identity.ldap!;
    const opened = ldap.stats.binds.opened;
    const o = await ldap.check('alice', '');
    assert.equal(o.ok, false);
    assert.equal(!o.ok && o.reason, 'invalid_credentials');
    assert.equal(ldap.stats.binds.opened, opened, 'no bind connection was used');
    const res = await vsphere(h, 'alice', '');
    assert.equal(res.statusCode, 400, res.body);
  });

  it('re-reads groups at each login: removing a user from a group takes effect at their next login', async () => {
    const dn = `uid=carol,ou=Users,${SUFFIX}`;
    const group = `cn=HcxOps,ou=Groups,${SUFFIX}`;
    const change = (operation: 'add' | 'delete') =>
      s.admin((c) => c.modify(group, [new Change({ operation, modification: new Attribute({ type: 'member', values: [dn] }) })]));
    await change('add');
    try {
      const res = await vsphere(h, 'carol', PEOPLE.carol.password);
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(json(res).data.user.roles, ['System Administrator', 'Enterprise Administrator']);
    } finally {
      await change('delete');
    }
    assertSeedError(await vsphere(h, 'carol', PEOPLE.carol.password), 403, SEED_403);
  });

  it('reuses its connections across logins', async () => {
    const ldap = h.p.identity.ldap!;
    const before = ldap.stats;
    for (let i = 0; i < 20; i++) assert.equal((await vsphere(h, 'alice', PEOPLE.alice.password)).statusCode, 200);
    const after = ldap.stats;
    assert.equal(after.search.opened, before.search.opened, 'no new search connection');
    assert.equal(after.binds.opened, before.binds.opened, 'no new bind connection');
    assert.ok(after.search.opened <= 2 && after.binds.opened <= 2, JSON.stringify(after));
  });
});

describe('LDAP group lookup variants', () => {
  it('reads memberOf (memberof overlay) with nesting, to the same roles', async () => {
    const h = await ldapHarness({ groups: { mode: 'memberOf' } });
    try {
      const res = await vsphere(h, 'bob', PEOPLE.bob.password);
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(json(res).data.user.roles, ['System Administrator', 'Enterprise Administrator']);
    } finally {
      await h.close();
    }
  });

  it('stops at nestedDepth: with 0, only direct groups count', async () => {
    const h = await ldapHarness({ groups: { base: `ou=Groups,${SUFFIX}`, nestedDepth: 0 } });
    try {
      const res = await vsphere(h, 'bob', PEOPLE.bob.password);
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(json(res).data.user.roles, ['Enterprise Administrator']);
    } finally {
      await h.close();
    }
  });

  it('finds users by e-mail style names with {username} and restricts domains', async () => {
    const h = await ldapHarness({ userFilter: '(mail={username})', domains: ['vsphere.local'] });
    try {
      assert.equal((await vsphere(h, `alice${AT}vsphere.local`, PEOPLE.alice.password)).statusCode, 200);
      assertSeedError(await vsphere(h, `alice${AT}evil.example`, PEOPLE.alice.password), 401, SEED_401);
    } finally {
      await h.close();
    }
  });
});

describe('XClarity: local accounts first, then the directory', () => {
  let h: Harness;
  before(async () => {
    h = await ldapHarness({ url: s.ldapsUrl, caFile: s.caFile }, { 'lxca.provider': ['local', 'ldap'] });
    await addUser(h, 'localadmin', 'Local-Admin-Pass-1', ['System Administrator']);
    // A local account named like a directory user: the local account owns the name.
    await addUser(h, 'alice', 'Local-Alice-Pass-1', ['Auditor']);
  });
  after(async () => {
    await h.close();
  });

  const lxca = (UserId: string, password: string) => h.app.inject({ method: 'POST', url: '/sessions', payload: { UserId, password } });

  it('logs local users in locally (authenticationServer 127.0.0.1) and directory users through LDAP (its host)', async () => {
    const local = await lxca('localadmin', 'Local-Admin-Pass-1');
    assert.equal(local.statusCode, 200, local.body);
    assert.equal(json(local).response.session.authenticationServer, '127.0.0.1');
    const dir = await lxca('bob', PEOPLE.bob.password);
    assert.equal(dir.statusCode, 200, dir.body);
    assert.equal(json(dir).response.session.authenticationServer, 'localhost');
  });

  it('never lets the directory answer for a name the local accounts know (no shadowing, no second guess)', async () => {
    const res = await lxca('alice', PEOPLE.alice.password);
    assert.equal(res.statusCode, 403, res.body); // XClarity's failed-login status (lxca.failedLoginStatus)
    assert.equal(json(res).messages[0].id, 'FQXHMSE0101J');
    const ok = await lxca('alice', 'Local-Alice-Pass-1');
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal(json(ok).response.session.authenticationServer, '127.0.0.1');
  });

  it('refuses names unknown to both with the usual failed-login answer (XClarity: 403)', async () => {
    const res = await lxca('nobody', 'Whatever-1');
    assert.equal(res.statusCode, 403, res.body);
  });
});

describe('the directory down, frozen, and back', () => {
  let h: Harness;
  before(async () => {
    h = await ldapHarness({}, { 'lxca.provider': ['local', 'ldap'] });
    await addUser(h, 'localadmin', 'Local-Admin-Pass-1', ['System Administrator']);
  });
  after(async () => {
    if (!s.running()) await s.start();
    s.resume();
    await h.close();
  });

  const local = () => h.app.inject({ method: 'POST', url: '/api/admin/v1/sessions', payload: { authType: 'local', username: 'localadmin', password: 'Local-Admin-Pass-1' } });

  it('answers 500 "Exception while performing auth" in time while the directory is stopped; local logins keep working; then recovers', async () => {
    assert.equal((await vsphere(h, 'alice', PEOPLE.alice.password)).statusCode, 200); // pooled connections exist
    await s.stop();
    try {
      const t0 = Date.now();
      assertSeedError(await vsphere(h, 'alice', PEOPLE.alice.password), 500, SEED_500);
      assert.ok(Date.now() - t0 < TIMEOUT_MS + SLACK_MS, `took ${Date.now() - t0} ms`);
      assert.match(sourceErrors(h).at(-1)!, /connection refused|closed the connection/);
      assert.equal((await local()).statusCode, 200, 'local logins keep working');
      const lx = await h.app.inject({ method: 'POST', url: '/sessions', payload: { UserId: 'alice', password: PEOPLE.alice.password } });
      assert.equal(lx.statusCode, 500, lx.body);
      assert.equal(json(lx).messages[0].id, 'FQXHMSE0107J');
      const lxLocal = await h.app.inject({ method: 'POST', url: '/sessions', payload: { UserId: 'localadmin', password: 'Local-Admin-Pass-1' } });
      assert.equal(lxLocal.statusCode, 200, 'the chain still logs local users in');
    } finally {
      await s.start();
    }
    const back = await vsphere(h, 'alice', PEOPLE.alice.password);
    assert.equal(back.statusCode, 200, back.body);
  });

  it('logs in right after a directory restart: connections the server dropped are never reused', async () => {
    assert.equal((await vsphere(h, 'alice', PEOPLE.alice.password)).statusCode, 200);
    const opened = h.p.identity.ldap!.stats.search.opened;
    await s.stop();
    await s.start();
    const res = await vsphere(h, 'alice', PEOPLE.alice.password);
    assert.equal(res.statusCode, 200, res.body);
    assert.ok(h.p.identity.ldap!.stats.search.opened > opened, 'a new connection was opened');
  });

  it('answers 500 within the timeout while the directory accepts connections but answers nothing; then recovers', async () => {
    assert.equal((await vsphere(h, 'alice', PEOPLE.alice.password)).statusCode, 200);
    await s.pause();
    try {
      const t0 = Date.now();
      const [a, b] = await Promise.all([vsphere(h, 'alice', PEOPLE.alice.password), vsphere(h, 'bob', PEOPLE.bob.password)]);
      const took = Date.now() - t0;
      assertSeedError(a, 500, SEED_500);
      assertSeedError(b, 500, SEED_500);
      assert.ok(took >= TIMEOUT_MS - 100 && took < TIMEOUT_MS + SLACK_MS, `took ${took} ms`);
      assert.match(sourceErrors(h).at(-1)!, /did not answer within 1500 ms/);
      const t1 = Date.now();
      assert.equal((await local()).statusCode, 200, 'local logins keep working');
      assert.ok(Date.now() - t1 < 1000, 'and are not slowed down');
    } finally {
      s.resume();
    }
    const back = await vsphere(h, 'alice', PEOPLE.alice.password);
    assert.equal(back.statusCode, 200, back.body);
  });
});

describe('LDAP over TLS', () => {
  const cases: [string, () => Record<string, unknown>][] = [
    ['StartTLS with the CA', () => ({ url: s.url, startTls: true, caFile: s.caFile })],
    ['ldaps:// with the CA (host name)', () => ({ url: s.ldapsUrl, caFile: s.caFile })],
    ['ldaps:// with the CA (IP address in the certificate)', () => ({ url: s.ldapsIpUrl, caFile: s.caFile })],
  ];
  for (const [name, cfg] of cases) {
    it(`logs in over ${name}`, async () => {
      const h = await ldapHarness(cfg());
      try {
        const res = await vsphere(h, 'alice', PEOPLE.alice.password);
        assert.equal(res.statusCode, 200, res.body);
      } finally {
        await h.close();
      }
    });
  }

  const bad: [string, () => Record<string, unknown>][] = [
    ['ldaps:// signed by another CA', () => ({ url: s.ldapsUrl, caFile: s.otherCaFile })],
    ['StartTLS signed by another CA', () => ({ url: s.url, startTls: true, caFile: s.otherCaFile })],
    ['ldaps:// with only the system CAs', () => ({ url: s.ldapsUrl })],
  ];
  for (const [name, cfg] of bad) {
    it(`refuses ${name} with a clear certificate error (500, never a login)`, async () => {
      const h = await ldapHarness(cfg());
      try {
        assertSeedError(await vsphere(h, 'alice', PEOPLE.alice.password), 500, SEED_500);
        assert.match(sourceErrors(h).at(-1)!, /TLS certificate of .* was not accepted \((SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)/);
      } finally {
        await h.close();
      }
    });
  }

  it('refuses a certificate that does not name the host', async () => {
    const h = await ldapHarness({ url: s.ldapsUrl.replace('localhost', '127.0.0.2'), caFile: s.caFile, allowPlaintext: false });
    try {
      const res = await vsphere(h, 'alice', PEOPLE.alice.password);
      assertSeedError(res, 500, SEED_500);
    } finally {
      await h.close();
    }
  });

  it('reports a refused service-account bind as a source error naming the key', async () => {
    const h = await ldapHarness({ bindPassword: 'not-the-password' });
    try {
      assertSeedError(await vsphere(h, 'alice', PEOPLE.alice.password), 500, SEED_500);
      assert.match(sourceErrors(h).at(-1)!, /refused the service account's bind \(check identity\.ldap\.bindDN/);
    } finally {
      await h.close();
    }
  });
});

describe('portcullis identity test ldap', () => {
  const cli = (args: string[], input: string, config: string) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [join(ROOT, 'dist', 'cli.js'), '--config', config, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`CLI timed out: ${stdout}${stderr}`));
      }, 15_000);
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
      child.stdin.end(input);
    });

  it('prints the groups, mapped roles and organizations, or the exact reason', async () => {
    const dir = tempDir();
    try {
      const config = join(dir.path, 'portcullis.json');
      writeFileSync(config, JSON.stringify({ dataDir: join(dir.path, 'data'), identity: { ldap: ldapConfig() } }));
      const ok = await cli(['identity', 'test', 'ldap', 'bob', '--password-stdin', '--json'], PEOPLE.bob.password, config);
      assert.equal(ok.code, 0, ok.stderr + ok.stdout);
      const r = JSON.parse(ok.stdout) as Record<string, any>;
      assert.equal(r.result, 'authenticated');
      assert.deepEqual(r.roles, ['System Administrator', 'Enterprise Administrator']);
      assert.deepEqual(r.organizations, ['CLOUD', 'DEFAULT']);
      assert.ok((r.groups as string[]).includes(`cn=CloudAdmins,ou=Groups,${SUFFIX}`));
      assert.equal(r.hcxLogin, 'allowed');
      assert.ok(!ok.stdout.includes(PEOPLE.bob.password) && !ok.stderr.includes(PEOPLE.bob.password));

      const wrong = await cli(['identity', 'test', 'ldap', 'bob', '--password-stdin'], 'nope', config);
      assert.equal(wrong.code, 1);
      assert.match(wrong.stdout, /invalid_credentials/);
      assert.match(wrong.stdout, /wrong password/);

      const carol = await cli(['identity', 'test', 'ldap', 'carol', '--password-stdin'], PEOPLE.carol.password, config);
      assert.match(carol.stdout, /refused \(403: no role in hcx\.allowedRoles\)/);

      writeFileSync(config, JSON.stringify({ dataDir: join(dir.path, 'data'), identity: { ldap: ldapConfig({ url: 'ldap://127.0.0.1:1' }) } }));
      const down = await cli(['identity', 'test', 'ldap', 'bob', '--password-stdin'], PEOPLE.bob.password, config);
      assert.equal(down.code, 3);
      assert.match(down.stdout, /source error/);
      assert.match(down.stdout, /connection refused/);
    } finally {
      dir.remove();
    }
  });
});
