import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { harness, type Harness } from '../helpers.js';

/*
 * One person, one name for OS accounts (README "Identities"): PAM never says who a
 * failed name belongs to, so only the pre-bind key (case fold + configured domains)
 * makes `pcx…`, `PCX…` and `pcx…@vsphere.local` one counter; a session is `pam:<the
 * account's own name>`. Needs root (pam_unix reads /etc/shadow); CI runs as root.
 */

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SHIPPED_SERVICE = join(ROOT, 'pam', 'portcullis');
const HELPER = join(ROOT, 'dist', 'bin', 'portcullis-pam-helper');
const tag = randomBytes(3).toString('hex');
const GROUP = `pcidg${tag}`;
const USER = { name: `pcid${tag}`, password: 'Os-Ident-Pass-1' };
let installedService = false;

function sh(cmd: string, args: string[], input?: string): void {
  const r = spawnSync(cmd, args, { input, encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
}

before(() => {
  assert.equal(process.getuid?.(), 0, 'the PAM tests need root (pam_unix reads /etc/shadow); CI runs as root');
  assert.ok(existsSync(HELPER), `${HELPER} is missing: bash scripts/check.sh builds it (needs libpam0g-dev)`);
  if (!existsSync('/etc/pam.d/portcullis')) {
    copyFileSync(SHIPPED_SERVICE, '/etc/pam.d/portcullis');
    installedService = true;
  }
  sh('groupadd', [GROUP]);
  sh('useradd', ['-M', '-s', '/usr/sbin/nologin', '-G', GROUP, USER.name]);
  sh('chpasswd', [], `${USER.name}:${USER.password}\n`);
});

after(() => {
  spawnSync('userdel', ['-f', USER.name]);
  spawnSync('groupdel', [GROUP]);
  if (installedService) rmSync('/etc/pam.d/portcullis', { force: true });
});

describe('PAM identities', () => {
  let h: Harness;
  afterEach(() => h?.close());

  const login = (username: string, password: string, ip: string) =>
    h.app.inject({ method: 'POST', url: '/api/admin/v1/sessions', headers: { 'x-forwarded-for': ip }, payload: { authType: 'local', username, password } });

  it('counts failures of every case and domain spelling against one key, so the account locks at 20 and the right password is then refused', async () => {
    h = await harness({
      overrides: {
        trustProxy: true,
        'identity.domains': ['vsphere.local'],
        'identity.pam': { groupRoles: { [GROUP]: ['System Administrator'] } },
        'hcx.authTypes': { local: 'pam', vsphere: 'ldap' },
      },
    });
    const spellings = [USER.name, USER.name.toUpperCase(), `${USER.name}@vsphere.local`, `${USER.name.toUpperCase()}@VSPHERE.LOCAL`];
    for (let i = 0; i < 20; i++) {
      const res = await login(spellings[i % spellings.length]!, `Wrong-${i}`, `198.51.100.${i + 1}`);
      assert.equal(res.statusCode, 401, res.body);
    }
    const state = await h.p.accounts.lockState(USER.name);
    assert.deepEqual([state.count, state.locked], [20, true], 'PAM said nothing about who was meant; the folded name did');
    assert.equal((await login(USER.name, USER.password, '198.51.100.99')).statusCode, 401, 'locked, like any locked login');
  });

  it('names the session pam:<the account name>, audited with what was typed', async () => {
    h = await harness({ overrides: { 'identity.pam': { groupRoles: { [GROUP]: ['System Administrator'] } }, 'hcx.authTypes': { local: 'pam', vsphere: 'ldap' } } });
    const res = await login(USER.name, USER.password, '203.0.113.5');
    assert.equal(res.statusCode, 200, res.body);
    const [s] = await h.p.sessions.listSessions({ username: `pam:${USER.name}` });
    assert.equal(s?.username, `pam:${USER.name}`);
    assert.equal(s?.authSource, 'pam');
    const [audit] = await h.p.audit.query({ kind: 'login.success' });
    assert.deepEqual([audit?.username, audit?.detail.typed], [`pam:${USER.name}`, USER.name]);
    assert.deepEqual(await h.p.sessions.listSessions({ username: USER.name }), [], 'never the local account of that name');
  });
});
