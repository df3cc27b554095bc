import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { CoreError } from '../../src/core/errors.js';
import type { LoginCommand, RequestContext } from '../../src/core/sessions.js';
import { ManualClock } from '../../src/ports/clock.js';
import { DuplicateAccountError } from '../../src/ports/store.js';
import { ADMIN_ROLES, addUser, harness, type Harness } from '../helpers.js';

/* AccountService on a real Portcullis: account changes and the sessions they end. */

const START = Date.UTC(2026, 10, 23, 9, 0, 0);
const CTX: RequestContext = { requestId: 'req-accounts', clientAddress: '192.0.2.8', dialect: 'lxca' };

function cmd(username: string, password: string): LoginCommand {
  return { provider: 'local', username, password, requiredRoles: 'any' };
}

const isCode = (code: string, message?: RegExp) => (e: unknown) =>
  e instanceof CoreError && e.code === code && (message === undefined || message.test(e.message));

const events = (h: Harness, name: string) => h.logger.lines.map((l) => l.obj as Record<string, unknown>).filter((o) => o.event === name);

describe('AccountService', () => {
  let h: Harness;
  let clock: ManualClock;
  beforeEach(async () => {
    clock = new ManualClock(START);
    h = await harness({ clock });
  });
  afterEach(() => h.close());

  async function loginToken(username: string, password: string): Promise<string> {
    const r = await h.p.sessions.login(cmd(username, password), CTX);
    assert.equal(r.kind, 'ok', `login of ${username}`);
    return r.kind === 'ok' ? r.token : '';
  }

  describe('create', () => {
    it('creates an enabled account with the given roles, the configured defaults, and an argon2id hash of the password', async () => {
      const a = await h.p.accounts.create({ username: 'alice', password: 'Alice-Pass-1', roles: ['Auditor', 'Operator'] });
      assert.equal(a.username, 'alice');
      assert.deepEqual(a.roles, ['Auditor', 'Operator']);
      assert.deepEqual(a.organizations, h.config.accounts.organizations);
      assert.equal(a.enterprise, h.config.accounts.enterprise);
      assert.equal(a.disabled, false);
      assert.equal(a.mustChangePassword, false);
      assert.equal(a.createdAt, START);
      assert.match(a.passwordHash ?? '', /^\$argon2id\$v=19\$m=8192,t=1,p=1\$/);
      assert.ok(!(a.passwordHash ?? '').includes('Alice-Pass-1'));
      assert.deepEqual(await h.p.accounts.get('alice'), a);
      assert.equal(await loginToken('alice', 'Alice-Pass-1').then((t) => t.length), 43);
      assert.deepEqual(events(h, 'account.create'), [{ event: 'account.create', user: 'alice' }]);
    });

    it('takes organizations, enterprise and mustChangePassword when given', async () => {
      const a = await h.p.accounts.create({ username: 'bob', password: 'Bob-Pass-123', roles: ['Operator'], organizations: ['ORG-A'], enterprise: 'Acme', mustChangePassword: true });
      assert.deepEqual(a.organizations, ['ORG-A']);
      assert.equal(a.enterprise, 'Acme');
      assert.equal(a.mustChangePassword, true);
    });

    it('stores the username in NFC, so the decomposed spelling finds the same account', async () => {
      await h.p.accounts.create({ username: 'jose\u0301', password: 'Jose-Pass-1', roles: ['Operator'] });
      assert.equal((await h.p.accounts.get('jos\u00e9')).username, 'jos\u00e9');
      assert.equal((await h.p.sessions.login(cmd('jose\u0301', 'Jose-Pass-1'), CTX)).kind, 'ok');
    });

    it('refuses a taken username with DuplicateAccountError', async () => {
      await addUser(h, 'alice', 'Alice-Pass-1', ['Operator']);
      await assert.rejects(h.p.accounts.create({ username: 'alice', password: 'Other-Pass-1', roles: [] }), DuplicateAccountError);
      assert.equal((await h.p.sessions.login(cmd('alice', 'Alice-Pass-1'), CTX)).kind, 'ok', 'the first account is intact');
    });

    it('refuses an invalid username, a password too short or equal to the username, and invalid role names', async () => {
      await assert.rejects(h.p.accounts.create({ username: ' alice', password: 'Alice-Pass-1', roles: [] }), isCode('invalid_input', /username/));
      await assert.rejects(h.p.accounts.create({ username: 'alice', password: 'short', roles: [] }), isCode('invalid_input', /at least 8/));
      await assert.rejects(h.p.accounts.create({ username: 'longusername', password: 'LongUserName', roles: [] }), isCode('invalid_input', /same as the username/));
      await assert.rejects(h.p.accounts.create({ username: 'alice', password: 'Alice-Pass-1', roles: [' padded'] }), isCode('invalid_input', /role/));
      await assert.rejects(h.p.accounts.create({ username: 'alice', password: 'Alice-Pass-1', roles: ['bad\nrole'] }), isCode('invalid_input', /role/));
      assert.equal(await h.p.store.countAccounts(), 0);
    });

    it('honours the configured minimum password length', async () => {
      const strict = await harness({ clock: new ManualClock(START), overrides: { 'accounts.minPasswordLength': 12 } });
      try {
        await assert.rejects(strict.p.accounts.create({ username: 'alice', password: 'Eleven-char', roles: [] }), isCode('invalid_input', /at least 12/));
        await strict.p.accounts.create({ username: 'alice', password: 'Twelve-chars', roles: [] });
      } finally {
        await strict.close();
      }
    });
  });

  describe('setPassword', () => {
    it("sets the new password, ends the user's sessions (and only theirs), and sets mustChangePassword as asked", async () => {
      await addUser(h, 'alice', 'Alice-Pass-1', ['Operator']);
      await addUser(h, 'bob', 'Bob-Pass-123', ['Operator']);
      const a1 = await loginToken('alice', 'Alice-Pass-1');
      const a2 = await loginToken('alice', 'Alice-Pass-1');
      const b1 = await loginToken('bob', 'Bob-Pass-123');
      clock.advance(1000);
      await h.p.accounts.setPassword('alice', 'New-Alice-Pass-2', { mustChange: true });
      assert.equal(await h.p.sessions.authenticate(a1, false), null);
      assert.equal(await h.p.sessions.authenticate(a2, false), null);
      assert.ok(await h.p.sessions.authenticate(b1, false));
      const a = await h.p.accounts.get('alice');
      assert.equal(a.mustChangePassword, true);
      assert.equal(a.updatedAt, START + 1000);
      assert.deepEqual(await h.p.sessions.login(cmd('alice', 'Alice-Pass-1'), CTX), { kind: 'invalid_credentials' });
      assert.equal((await h.p.sessions.login(cmd('alice', 'New-Alice-Pass-2'), CTX)).kind, 'ok');
      assert.deepEqual(events(h, 'account.password_set'), [{ event: 'account.password_set', user: 'alice', sessionsEnded: 2 }]);
      assert.ok(!h.logger.text().includes('New-Alice-Pass-2'));
    });

    it('clears mustChangePassword when asked', async () => {
      await addUser(h, 'alice', 'Alice-Pass-1', ['Operator'], { mustChangePassword: true });
      await h.p.accounts.setPassword('alice', 'New-Alice-Pass-2', { mustChange: false });
      assert.equal((await h.p.accounts.get('alice')).mustChangePassword, false);
    });

    it('applies the new-password rules and changes nothing when they fail', async () => {
      await addUser(h, 'alice', 'Alice-Pass-1', ['Operator']);
      const t = await loginToken('alice', 'Alice-Pass-1');
      await assert.rejects(h.p.accounts.setPassword('alice', 'short', { mustChange: false }), isCode('invalid_input', /at least 8/));
      await assert.rejects(h.p.accounts.setPassword('alice', 'nul\u0000-in-password', { mustChange: false }), isCode('invalid_input', /NUL/));
      assert.ok(await h.p.sessions.authenticate(t, false), 'the session lives on');
      assert.equal((await h.p.sessions.login(cmd('alice', 'Alice-Pass-1'), CTX)).kind, 'ok');
    });

    it('refuses a password equal to the username, whatever its case', async () => {
      await addUser(h, 'administrator', 'Admin-Pass-1', ['Operator']);
      await assert.rejects(h.p.accounts.setPassword('administrator', 'Administrator', { mustChange: false }), isCode('invalid_input', /same as the username/));
    });

    it('answers not_found for an unknown account', async () => {
      await assert.rejects(h.p.accounts.setPassword('nobody', 'Nobody-Pass-1', { mustChange: false }), isCode('not_found'));
    });
  });

  describe('setDisabled', () => {
    it('disabling ends the sessions and refuses login as invalid_credentials, exactly as a wrong password', async () => {
      await addUser(h, 'alice', 'Alice-Pass-1', ['Operator']);
      const t = await loginToken('alice', 'Alice-Pass-1');
      await h.p.accounts.setDisabled('alice', true);
      assert.equal(await h.p.sessions.authenticate(t, false), null);
      assert.equal((await h.p.accounts.get('alice')).disabled, true);
      const refused = await h.p.sessions.login(cmd('alice', 'Alice-Pass-1'), CTX);
      const wrong = await h.p.sessions.login(cmd('alice', 'Wrong-Pass-1'), CTX);
      assert.deepEqual(refused, { kind: 'invalid_credentials' });
      assert.deepEqual(refused, wrong);
      assert.deepEqual(await h.p.sessions.listSessions(), []);
      assert.deepEqual(events(h, 'account.disable'), [{ event: 'account.disable', user: 'alice', sessionsEnded: 1 }]);
    });

    it('enabling lets the user log in again', async () => {
      await addUser(h, 'alice', 'Alice-Pass-1', ['Operator']);
      await h.p.accounts.setDisabled('alice', true);
      await h.p.accounts.setDisabled('alice', false);
      assert.equal((await h.p.accounts.get('alice')).disabled, false);
      assert.equal((await h.p.sessions.login(cmd('alice', 'Alice-Pass-1'), CTX)).kind, 'ok');
    });

    it('enabling leaves live sessions alone', async () => {
      await addUser(h, 'alice', 'Alice-Pass-1', ['Operator']);
      const t = await loginToken('alice', 'Alice-Pass-1');
      await h.p.accounts.setDisabled('alice', false);
      assert.ok(await h.p.sessions.authenticate(t, false));
    });

    it('answers not_found for an unknown account', async () => {
      await assert.rejects(h.p.accounts.setDisabled('nobody', true), isCode('not_found'));
    });
  });

  describe('delete', () => {
    it('deletes the account and its sessions, and only those', async () => {
      await addUser(h, 'alice', 'Alice-Pass-1', ['Operator']);
      await addUser(h, 'bob', 'Bob-Pass-123', ['Operator']);
      const a = await loginToken('alice', 'Alice-Pass-1');
      const b = await loginToken('bob', 'Bob-Pass-123');
      await h.p.accounts.delete('alice');
      await assert.rejects(h.p.accounts.get('alice'), isCode('not_found'));
      assert.equal(await h.p.sessions.authenticate(a, false), null);
      assert.ok(await h.p.sessions.authenticate(b, false));
      assert.deepEqual((await h.p.accounts.list()).map((x) => x.username), ['bob']);
      assert.deepEqual(await h.p.sessions.login(cmd('alice', 'Alice-Pass-1'), CTX), { kind: 'invalid_credentials' });
    });

    it('answers not_found for an unknown account', async () => {
      await assert.rejects(h.p.accounts.delete('nobody'), isCode('not_found'));
    });
  });

  describe('update', () => {
    it('changes roles, organizations and enterprise; the next login carries the new roles', async () => {
      await addUser(h, 'alice', 'Alice-Pass-1', ['Operator']);
      clock.advance(5000);
      const a = await h.p.accounts.update('alice', { roles: ['Auditor'], organizations: ['ORG-B'], enterprise: 'Acme' });
      assert.deepEqual(a.roles, ['Auditor']);
      assert.deepEqual(a.organizations, ['ORG-B']);
      assert.equal(a.enterprise, 'Acme');
      assert.equal(a.updatedAt, START + 5000);
      const r = await h.p.sessions.login(cmd('alice', 'Alice-Pass-1'), CTX);
      assert.equal(r.kind === 'ok' && r.session.roles.join(), 'Auditor');
    });
  });

  describe('ensureFirstAdmin', () => {
    it('on an empty store creates admin with every admin role and a one-time password that must be changed', async () => {
      const first = await h.p.accounts.ensureFirstAdmin();
      assert.ok(first);
      assert.equal(first.username, 'admin');
      assert.match(first.password, /^[A-Za-z0-9_-]{24}$/, '144 random bits');
      const admin = await h.p.accounts.get('admin');
      assert.deepEqual(admin.roles, ADMIN_ROLES);
      assert.deepEqual(admin.roles, h.config.accounts.adminRoles);
      assert.equal(admin.mustChangePassword, true);
      assert.equal(admin.disabled, false);
      const r = await h.p.sessions.login(cmd('admin', first.password), CTX);
      assert.equal(r.kind, 'ok');
      assert.equal(r.kind === 'ok' && r.session.mustChangePassword, true);
      assert.ok(!h.logger.text().includes(first.password), 'the password is shown once, never logged');
    });

    it('returns null afterwards and leaves the admin as it was', async () => {
      const first = await h.p.accounts.ensureFirstAdmin();
      assert.ok(first);
      assert.equal(await h.p.accounts.ensureFirstAdmin(), null);
      assert.equal(await h.p.store.countAccounts(), 1);
      assert.equal((await h.p.sessions.login(cmd('admin', first.password), CTX)).kind, 'ok');
    });

    it('returns null on a store that already has any account, and creates no admin', async () => {
      await addUser(h, 'alice', 'Alice-Pass-1', ['Operator']);
      assert.equal(await h.p.accounts.ensureFirstAdmin(), null);
      await assert.rejects(h.p.accounts.get('admin'), isCode('not_found'));
    });

    it('makes a different password on every fresh store', async () => {
      const other = await harness({ clock: new ManualClock(START) });
      try {
        const a = await h.p.accounts.ensureFirstAdmin();
        const b = await other.p.accounts.ensureFirstAdmin();
        assert.ok(a && b);
        assert.notEqual(a.password, b.password);
      } finally {
        await other.close();
      }
    });
  });
});
