import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import {
  DuplicateAccountError,
  LOCKED_UNTIL_CLEARED,
  type AccountStore,
  type AuditStore,
  type LoginGuardStore,
  type NewAccount,
  type PasswordHistoryStore,
  type SecondFactorStore,
  type SessionLimitStore,
  type SessionRecord,
  type SessionStore,
  type SettingsStore,
} from '../../src/ports/store.js';

/*
 * The shared contract of the storage ports (src/ports/store.ts). Every adapter
 * (SQLite, PostgreSQL, Redis) runs this suite unchanged; it uses nothing but the
 * port interfaces and the two optional hooks below, and it tests exactly the rules
 * written in the ports' doc comments.
 */

/** A store under test. `open()` must give an empty store each time. */
export interface StoreUnderTest {
  accounts: AccountStore;
  sessions: SessionStore;
  limits: SessionLimitStore;
  guard: LoginGuardStore;
  history: PasswordHistoryStore;
  secondFactors: SecondFactorStore;
  settings: SettingsStore;
  audit: AuditStore;
  /** Writes whatever the adapter keeps behind (batched touches) to durable storage. */
  flush?(): Promise<void> | void;
  /** Closes the store and opens it again on the same durable data, as after a restart. */
  reopen?(): Promise<{ accounts: AccountStore; sessions: SessionStore }>;
  /** Releases the store as it is now (after a reopen, the reopened one) and whatever `open` created for it. */
  close(): Promise<void> | void;
}

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

function newAccount(username: string, over: Partial<NewAccount> = {}): NewAccount {
  return {
    username,
    roles: ['System Administrator'],
    organizations: ['DEFAULT'],
    enterprise: 'HybridityAdmin',
    disabled: false,
    mustChangePassword: false,
    passwordHash: '$argon2id$v=19$m=8192,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA',
    ...over,
  };
}

let serial = 0;

/** A session as the core would make it: a fresh id and token hash, created at `createdAt`. */
function newSession(over: Partial<SessionRecord> = {}): SessionRecord {
  serial += 1;
  const createdAt = over.createdAt ?? T0;
  return {
    id: `${randomBytes(12).toString('hex')}${String(serial).padStart(4, '0')}`,
    tokenHash: createHash('sha256').update(randomBytes(32)).digest(),
    csrf: randomBytes(32).toString('base64url'),
    username: 'alice',
    roles: ['System Administrator', 'Enterprise Administrator'],
    organizations: ['DEFAULT'],
    enterprise: 'HybridityAdmin',
    mustChangePassword: false,
    createdAt,
    lastAccessedAt: createdAt,
    idleTimeoutMs: 24 * MINUTE,
    expiresAt: createdAt + 24 * HOUR,
    clientAddress: '192.0.2.10',
    authSource: 'local',
    authServer: '127.0.0.1',
    dialect: 'hcx',
    ...over,
  };
}

const ids = (list: SessionRecord[]) => list.map((s) => s.id);

/**
 * Registers the store contract suite for one adapter.
 *
 * @example
 * runStoreContract('SqliteStore', async () => {
 *   const store = new SqliteStore({ path: ':memory:' });
 *   return { accounts: store, sessions: store, limits: store, guard: store, history: store, secondFactors: store, settings: store, audit: store, close: () => store.close() };
 * });
 */
export function runStoreContract(name: string, open: () => Promise<StoreUnderTest>): void {
  describe(`store contract: ${name}`, () => {
    let sut: StoreUnderTest;
    let accounts: AccountStore;
    let sessions: SessionStore;
    let limits: SessionLimitStore;
    let guard: LoginGuardStore;
    let history: PasswordHistoryStore;
    let factors: SecondFactorStore;
    let settings: SettingsStore;
    let audit: AuditStore;

    beforeEach(async () => {
      sut = await open();
      ({ limits, guard, history, settings, audit } = sut);
      factors = sut.secondFactors;
      accounts = sut.accounts;
      sessions = sut.sessions;
    });

    afterEach(async () => {
      await sut.close();
    });

    /** Flushes and reopens when the adapter supports it; returns whether it did reopen. */
    async function restart(): Promise<boolean> {
      await sut.flush?.();
      if (!sut.reopen) return false;
      const again = await sut.reopen();
      accounts = again.accounts;
      sessions = again.sessions;
      return true;
    }

    describe('accounts', () => {
      it('creates an account and returns it with createdAt and updatedAt set to now', async () => {
        const input = newAccount('alice');
        const created = await accounts.createAccount(input, T0);
        assert.deepEqual(created, { ...input, createdAt: T0, updatedAt: T0 });
      });

      it('reads a created account back with every field intact', async () => {
        const input = newAccount('alice', {
          roles: ['Auditor'],
          organizations: ['ORG-A', 'ORG-B'],
          enterprise: 'Acme',
          disabled: true,
          mustChangePassword: true,
        });
        await accounts.createAccount(input, T0);
        assert.deepEqual(await accounts.getAccount('alice'), { ...input, createdAt: T0, updatedAt: T0 });
      });

      it('stores an account without a password hash as passwordHash null', async () => {
        await accounts.createAccount(newAccount('nopass', { passwordHash: null }), T0);
        assert.equal((await accounts.getAccount('nopass'))?.passwordHash, null);
      });

      it('returns null for an account that does not exist', async () => {
        assert.equal(await accounts.getAccount('nobody'), null);
      });

      it('refuses a second account with the same username with DuplicateAccountError and keeps the first', async () => {
        await accounts.createAccount(newAccount('alice', { enterprise: 'First' }), T0);
        await assert.rejects(
          accounts.createAccount(newAccount('alice', { enterprise: 'Second' }), T0 + SECOND),
          (e: unknown) => e instanceof DuplicateAccountError && e.username === 'alice',
        );
        const kept = await accounts.getAccount('alice');
        assert.equal(kept?.enterprise, 'First');
        assert.equal(kept?.createdAt, T0);
        assert.equal(await accounts.countAccounts(), 1);
      });

      it('treats usernames as exact and case-sensitive: "alice", "Alice" and "ALICE" are three accounts', async () => {
        await accounts.createAccount(newAccount('alice', { enterprise: 'lower' }), T0);
        await accounts.createAccount(newAccount('Alice', { enterprise: 'capital' }), T0);
        await accounts.createAccount(newAccount('ALICE', { enterprise: 'upper' }), T0);
        assert.equal(await accounts.countAccounts(), 3);
        assert.equal((await accounts.getAccount('alice'))?.enterprise, 'lower');
        assert.equal((await accounts.getAccount('Alice'))?.enterprise, 'capital');
        assert.equal((await accounts.getAccount('ALICE'))?.enterprise, 'upper');
        assert.equal(await accounts.getAccount('aLiCe'), null);
      });

      it('matches usernames exactly: no trimming of white space, no Unicode normalization', async () => {
        const nfc = 'jos\u00e9';
        const nfd = 'jose\u0301';
        await accounts.createAccount(newAccount(nfc), T0);
        assert.equal(await accounts.getAccount(`${nfc} `), null);
        assert.equal(await accounts.getAccount(nfd), null);
        await accounts.createAccount(newAccount(nfd, { enterprise: 'decomposed' }), T0);
        assert.equal((await accounts.getAccount(nfd))?.enterprise, 'decomposed');
        assert.equal((await accounts.getAccount(nfc))?.enterprise, 'HybridityAdmin');
        assert.equal(await accounts.countAccounts(), 2);
      });

      it('lists no accounts in an empty store', async () => {
        assert.deepEqual(await accounts.listAccounts(), []);
      });

      it('lists every account sorted by username, whatever the order of creation', async () => {
        for (const u of ['carol', 'alice', 'dave', 'bob']) await accounts.createAccount(newAccount(u), T0);
        const list = await accounts.listAccounts();
        assert.deepEqual(
          list.map((a) => a.username),
          ['alice', 'bob', 'carol', 'dave'],
        );
        assert.deepEqual(list[0], { ...newAccount('alice'), createdAt: T0, updatedAt: T0 });
        assert.deepEqual(await accounts.listAccountNames(), ['alice', 'bob', 'carol', 'dave'], 'the names alone, in the same order');
      });

      it('updates only the fields named in the patch, sets updatedAt to now and keeps createdAt', async () => {
        const input = newAccount('alice', { roles: ['Auditor'], enterprise: 'Acme' });
        await accounts.createAccount(input, T0);
        const updated = await accounts.updateAccount('alice', { roles: ['Operator', 'Auditor'] }, T0 + MINUTE);
        const expected = { ...input, roles: ['Operator', 'Auditor'], createdAt: T0, updatedAt: T0 + MINUTE };
        assert.deepEqual(updated, expected);
        assert.deepEqual(await accounts.getAccount('alice'), expected);
      });

      it('treats a field absent from the patch (or undefined) as unchanged and an explicit null passwordHash as cleared', async () => {
        const input = newAccount('alice');
        await accounts.createAccount(input, T0);
        const kept = await accounts.updateAccount('alice', { passwordHash: undefined, enterprise: 'Acme' }, T0 + 1);
        assert.equal(kept?.passwordHash, input.passwordHash);
        const cleared = await accounts.updateAccount('alice', { passwordHash: null }, T0 + 2);
        assert.equal(cleared?.passwordHash, null);
        assert.equal(cleared?.enterprise, 'Acme');
        assert.equal((await accounts.getAccount('alice'))?.passwordHash, null);
      });

      it('updates every patchable field at once, booleans in both directions', async () => {
        await accounts.createAccount(newAccount('alice', { disabled: false, mustChangePassword: true }), T0);
        const patch = {
          roles: [],
          organizations: ['ORG-X'],
          enterprise: 'Other',
          disabled: true,
          mustChangePassword: false,
          passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$bmV3c2FsdG5ld3NhbHQ$bmV3aGFzaG5ld2hhc2huZXdoYXNobmV3aGFzaA',
        };
        const updated = await accounts.updateAccount('alice', patch, T0 + HOUR);
        const expected = { username: 'alice', ...patch, createdAt: T0, updatedAt: T0 + HOUR };
        assert.deepEqual(updated, expected);
        assert.deepEqual(await accounts.getAccount('alice'), expected);
        const back = await accounts.updateAccount('alice', { disabled: false, mustChangePassword: true }, T0 + 2 * HOUR);
        assert.equal(back?.disabled, false);
        assert.equal(back?.mustChangePassword, true);
      });

      it('sets updatedAt even for an empty patch', async () => {
        await accounts.createAccount(newAccount('alice'), T0);
        const updated = await accounts.updateAccount('alice', {}, T0 + 5 * SECOND);
        assert.deepEqual(updated, { ...newAccount('alice'), createdAt: T0, updatedAt: T0 + 5 * SECOND });
      });

      it('returns null when updating an account that does not exist, and creates none', async () => {
        await accounts.createAccount(newAccount('alice'), T0);
        assert.equal(await accounts.updateAccount('bob', { disabled: true }, T0 + 1), null);
        assert.equal(await accounts.updateAccount('Alice', { disabled: true }, T0 + 1), null);
        assert.equal(await accounts.getAccount('bob'), null);
        assert.equal((await accounts.getAccount('alice'))?.disabled, false);
        assert.equal(await accounts.countAccounts(), 1);
      });

      it('updates only the named account', async () => {
        await accounts.createAccount(newAccount('alice'), T0);
        await accounts.createAccount(newAccount('bob'), T0);
        await accounts.updateAccount('alice', { disabled: true }, T0 + 1);
        assert.deepEqual(await accounts.getAccount('bob'), { ...newAccount('bob'), createdAt: T0, updatedAt: T0 });
      });

      it('deletes an account, returning true, and false when there was none', async () => {
        await accounts.createAccount(newAccount('alice'), T0);
        await accounts.createAccount(newAccount('bob'), T0);
        assert.equal(await accounts.deleteAccount('alice'), true);
        assert.equal(await accounts.getAccount('alice'), null);
        assert.equal(await accounts.deleteAccount('alice'), false);
        assert.equal(await accounts.deleteAccount('nobody'), false);
        assert.deepEqual((await accounts.listAccounts()).map((a) => a.username), ['bob']);
      });

      it('lets a deleted username be created again', async () => {
        await accounts.createAccount(newAccount('alice', { enterprise: 'old' }), T0);
        await accounts.deleteAccount('alice');
        const again = await accounts.createAccount(newAccount('alice', { enterprise: 'new' }), T0 + HOUR);
        assert.equal(again.createdAt, T0 + HOUR);
        assert.equal((await accounts.getAccount('alice'))?.enterprise, 'new');
      });

      it('counts accounts as they are created and deleted', async () => {
        assert.equal(await accounts.countAccounts(), 0);
        await accounts.createAccount(newAccount('alice'), T0);
        await accounts.createAccount(newAccount('bob'), T0);
        assert.equal(await accounts.countAccounts(), 2);
        await accounts.deleteAccount('bob');
        assert.equal(await accounts.countAccounts(), 1);
      });

      it('round-trips roles and organizations in order, including unicode, punctuation and empty lists', async () => {
        const roles = ['Système Administrator', '管理者', 'Ops 🚀', 'a "quoted", comma-separated \\ role', 'Operator'];
        const organizations = ['Zürich', 'ORG,1', 'Άλφα'];
        await accounts.createAccount(newAccount('ünïcødé-用户', { roles, organizations, enterprise: 'Ünternehmen' }), T0);
        const got = await accounts.getAccount('ünïcødé-用户');
        assert.deepEqual(got?.roles, roles);
        assert.deepEqual(got?.organizations, organizations);
        assert.equal(got?.enterprise, 'Ünternehmen');
        await accounts.createAccount(newAccount('empty', { roles: [], organizations: [] }), T0);
        const empty = await accounts.getAccount('empty');
        assert.deepEqual(empty?.roles, []);
        assert.deepEqual(empty?.organizations, []);
      });

      it('keeps accounts across a restart', async (t) => {
        await accounts.createAccount(newAccount('alice', { roles: ['Auditor', '管理者'] }), T0);
        if (!(await restart())) return void t.skip('adapter has no reopen hook');
        assert.deepEqual(await accounts.getAccount('alice'), { ...newAccount('alice', { roles: ['Auditor', '管理者'] }), createdAt: T0, updatedAt: T0 });
      });
    });

    describe('sessions', () => {
      it('creates a session and finds it by the hash of its token with every field intact', async () => {
        const s = newSession({ mustChangePassword: true, dialect: 'lxca', clientAddress: '2001:db8::1', authSource: 'ldap', authServer: '10.0.0.5' });
        await sessions.createSession(s);
        assert.deepEqual(await sessions.findSessionByTokenHash(Buffer.from(s.tokenHash)), s);
      });

      it('returns null for a token hash it does not know, even one differing in the last byte only', async () => {
        const s = newSession();
        await sessions.createSession(s);
        const other = Buffer.from(s.tokenHash);
        other[31] = other[31]! ^ 1;
        assert.equal(await sessions.findSessionByTokenHash(other), null);
        assert.equal(await sessions.findSessionByTokenHash(createHash('sha256').update('unknown').digest()), null);
      });

      it('round-trips tokenHash as a 32-byte Buffer, whatever bytes it holds', async () => {
        const awkward = [
          Buffer.alloc(32, 0x00),
          Buffer.alloc(32, 0xff),
          Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 37 + 0x80) & 0xff)),
        ];
        for (const tokenHash of awkward) {
          const s = newSession({ tokenHash });
          await sessions.createSession(s);
          for (const got of [await sessions.findSessionByTokenHash(Buffer.from(tokenHash)), await sessions.getSession(s.id)]) {
            assert.ok(got, 'the session is found');
            assert.ok(Buffer.isBuffer(got.tokenHash), 'tokenHash is a Buffer');
            assert.equal(got.tokenHash.length, 32);
            assert.ok(got.tokenHash.equals(tokenHash), `tokenHash ${got.tokenHash.toString('hex')} equals ${tokenHash.toString('hex')}`);
          }
        }
      });

      it('gets a session by id, and null for an unknown id', async () => {
        const s = newSession();
        await sessions.createSession(s);
        assert.deepEqual(await sessions.getSession(s.id), s);
        assert.equal(await sessions.getSession('no-such-session'), null);
      });

      it('round-trips roles and organizations of a session in order, including unicode and empty lists', async () => {
        const a = newSession({ roles: ['Système Administrator', '管理者', 'Ops 🚀', 'x,"y"\\z'], organizations: ['Zürich', 'Άλφα'], username: 'jos\u00e9' });
        const b = newSession({ roles: [], organizations: [] });
        await sessions.createSession(a);
        await sessions.createSession(b);
        assert.deepEqual(await sessions.getSession(a.id), a);
        assert.deepEqual(await sessions.getSession(b.id), b);
      });

      it('lists no sessions in an empty store', async () => {
        assert.deepEqual(await sessions.listSessions(), []);
        assert.deepEqual(await sessions.listSessions({ username: 'alice' }), []);
      });

      it('counts the sessions it holds without listing them, and the count follows creations and deletions', async () => {
        assert.equal(await sessions.countSessions(), 0);
        const a = newSession({ username: 'alice' });
        const b = newSession({ username: 'bob' });
        await sessions.createSession(a);
        await sessions.createSession(b);
        assert.equal(await sessions.countSessions(), 2);
        await sessions.deleteSession(a.id);
        assert.equal(await sessions.countSessions(), 1);
      });

      it('lists all sessions oldest first, whatever the order of creation', async () => {
        // Ids sort opposite to age, so an order by id cannot pass for oldest first.
        const third = newSession({ id: 'session-b', createdAt: T0 + 3 * MINUTE, username: 'bob' });
        const first = newSession({ id: 'session-d', createdAt: T0 + 1 * MINUTE, username: 'alice' });
        const fourth = newSession({ id: 'session-a', createdAt: T0 + 4 * MINUTE, username: 'alice' });
        const second = newSession({ id: 'session-c', createdAt: T0 + 2 * MINUTE, username: 'carol' });
        for (const s of [third, first, fourth, second]) await sessions.createSession(s);
        const list = await sessions.listSessions();
        assert.deepEqual(ids(list), ids([first, second, third, fourth]));
        assert.deepEqual(list[0], first);
        assert.deepEqual(ids(await sessions.listSessions({})), ids([first, second, third, fourth]));
      });

      it("lists one user's sessions oldest first and no one else's", async () => {
        const late = newSession({ id: 'session-a', createdAt: T0 + 2 * HOUR, username: 'alice' });
        const other = newSession({ id: 'session-b', createdAt: T0 + 1 * HOUR, username: 'bob' });
        const early = newSession({ id: 'session-c', createdAt: T0, username: 'alice' });
        const capital = newSession({ id: 'session-d', createdAt: T0 + 3 * HOUR, username: 'Alice' });
        for (const s of [late, other, early, capital]) await sessions.createSession(s);
        assert.deepEqual(ids(await sessions.listSessions({ username: 'alice' })), ids([early, late]));
        assert.deepEqual(ids(await sessions.listSessions({ username: 'bob' })), ids([other]));
        assert.deepEqual(ids(await sessions.listSessions({ username: 'Alice' })), ids([capital]));
        assert.deepEqual(await sessions.listSessions({ username: 'nobody' }), []);
      });

      it('deletes a session by id, returning true, and false when there was none', async () => {
        const s = newSession();
        const keep = newSession();
        await sessions.createSession(s);
        await sessions.createSession(keep);
        assert.equal(await sessions.deleteSession(s.id), true);
        assert.equal(await sessions.getSession(s.id), null);
        assert.equal(await sessions.findSessionByTokenHash(s.tokenHash), null);
        assert.deepEqual(ids(await sessions.listSessions()), [keep.id]);
        assert.equal(await sessions.deleteSession(s.id), false);
        assert.equal(await sessions.deleteSession('no-such-session'), false);
      });

      it("deletes every session of a user and returns how many, leaving other users' sessions untouched", async () => {
        const a1 = newSession({ username: 'alice', createdAt: T0 });
        const a2 = newSession({ username: 'alice', createdAt: T0 + 1 });
        const a3 = newSession({ username: 'alice', createdAt: T0 + 2 });
        const b1 = newSession({ username: 'bob', createdAt: T0 + 3 });
        const c1 = newSession({ username: 'Alice', createdAt: T0 + 4 });
        for (const s of [a1, a2, a3, b1, c1]) await sessions.createSession(s);
        assert.equal(await sessions.deleteSessionsOfUser('alice'), 3);
        for (const s of [a1, a2, a3]) {
          assert.equal(await sessions.getSession(s.id), null);
          assert.equal(await sessions.findSessionByTokenHash(s.tokenHash), null);
        }
        assert.deepEqual(await sessions.listSessions({ username: 'alice' }), []);
        assert.deepEqual(await sessions.getSession(b1.id), b1);
        assert.deepEqual(await sessions.getSession(c1.id), c1);
        assert.deepEqual(ids(await sessions.listSessions()), ids([b1, c1]));
        assert.equal(await sessions.deleteSessionsOfUser('alice'), 0);
        assert.equal(await sessions.deleteSessionsOfUser('nobody'), 0);
      });

      it('keeps a created session across a restart (createSession commits durably)', async (t) => {
        const s = newSession();
        await sessions.createSession(s);
        if (!(await restart())) return void t.skip('adapter has no reopen hook');
        assert.deepEqual(await sessions.findSessionByTokenHash(s.tokenHash), s);
      });

      describe('touchSession', () => {
        it('is visible at once to findSessionByTokenHash, getSession and listSessions', async () => {
          const s = newSession();
          await sessions.createSession(s);
          await sessions.touchSession(s.id, T0 + 5 * MINUTE);
          assert.equal((await sessions.findSessionByTokenHash(s.tokenHash))?.lastAccessedAt, T0 + 5 * MINUTE);
          assert.equal((await sessions.getSession(s.id))?.lastAccessedAt, T0 + 5 * MINUTE);
          assert.equal((await sessions.listSessions())[0]?.lastAccessedAt, T0 + 5 * MINUTE);
          assert.equal((await sessions.listSessions({ username: s.username }))[0]?.lastAccessedAt, T0 + 5 * MINUTE);
        });

        it('changes nothing but lastAccessedAt, and only of the touched session', async () => {
          const s = newSession();
          const other = newSession();
          await sessions.createSession(s);
          await sessions.createSession(other);
          await sessions.touchSession(s.id, T0 + MINUTE);
          assert.deepEqual(await sessions.getSession(s.id), { ...s, lastAccessedAt: T0 + MINUTE });
          assert.deepEqual(await sessions.getSession(other.id), other);
        });

        it('never moves lastAccessedAt backwards, before or after a flush', async () => {
          const s = newSession({ createdAt: T0, lastAccessedAt: T0 + MINUTE });
          await sessions.createSession(s);
          await sessions.touchSession(s.id, T0 + 30 * SECOND);
          assert.equal((await sessions.getSession(s.id))?.lastAccessedAt, T0 + MINUTE, 'a touch older than the stored value');
          await sessions.touchSession(s.id, T0 + 10 * MINUTE);
          await sessions.touchSession(s.id, T0 + 5 * MINUTE);
          assert.equal((await sessions.getSession(s.id))?.lastAccessedAt, T0 + 10 * MINUTE, 'a late-arriving older touch');
          await sut.flush?.();
          assert.equal((await sessions.getSession(s.id))?.lastAccessedAt, T0 + 10 * MINUTE, 'after a flush');
          await sessions.touchSession(s.id, T0 + 2 * MINUTE);
          await sut.flush?.();
          assert.equal((await sessions.findSessionByTokenHash(s.tokenHash))?.lastAccessedAt, T0 + 10 * MINUTE, 'an older touch flushed after a newer one');
        });

        it('survives a flush and a restart', async (t) => {
          const s = newSession();
          await sessions.createSession(s);
          await sessions.touchSession(s.id, T0 + 7 * MINUTE);
          await sessions.touchSession(s.id, T0 + 3 * MINUTE);
          if (!(await restart())) return void t.skip('adapter has no reopen hook');
          assert.deepEqual(await sessions.getSession(s.id), { ...s, lastAccessedAt: T0 + 7 * MINUTE });
          assert.equal((await sessions.findSessionByTokenHash(s.tokenHash))?.lastAccessedAt, T0 + 7 * MINUTE);
        });

        it('does not bring back a session deleted after it was touched, nor create one for an unknown id', async () => {
          const s = newSession();
          await sessions.createSession(s);
          await sessions.touchSession(s.id, T0 + MINUTE);
          assert.equal(await sessions.deleteSession(s.id), true);
          await sessions.touchSession('no-such-session', T0 + MINUTE);
          await sut.flush?.();
          assert.equal(await sessions.getSession(s.id), null);
          assert.equal(await sessions.findSessionByTokenHash(s.tokenHash), null);
          assert.equal(await sessions.getSession('no-such-session'), null);
          assert.deepEqual(await sessions.listSessions(), []);
          assert.deepEqual(await sessions.deleteExpiredSessions(T0 + 365 * 24 * HOUR), []);
        });

        it("does not bring back sessions ended by deleteSessionsOfUser after they were touched", async () => {
          const s = newSession({ username: 'alice' });
          await sessions.createSession(s);
          await sessions.touchSession(s.id, T0 + MINUTE);
          assert.equal(await sessions.deleteSessionsOfUser('alice'), 1);
          await sut.flush?.();
          assert.equal(await sessions.getSession(s.id), null);
          assert.deepEqual(await sessions.listSessions(), []);
        });
      });

      describe('deleteExpiredSessions', () => {
        it('keeps a session 1 ms before its absolute expiry and deletes it exactly at expiresAt', async () => {
          const s = newSession({ idleTimeoutMs: 0, expiresAt: T0 + HOUR });
          await sessions.createSession(s);
          assert.deepEqual(await sessions.deleteExpiredSessions(T0 + HOUR - 1), []);
          assert.deepEqual(await sessions.getSession(s.id), s);
          assert.deepEqual(await sessions.deleteExpiredSessions(T0 + HOUR), [s]);
          assert.equal(await sessions.getSession(s.id), null);
        });

        it('deletes a session whose absolute expiry has passed even though it was just used', async () => {
          const s = newSession({ idleTimeoutMs: 10 * MINUTE, expiresAt: T0 + HOUR });
          await sessions.createSession(s);
          await sessions.touchSession(s.id, T0 + HOUR - SECOND);
          const gone = await sessions.deleteExpiredSessions(T0 + HOUR);
          assert.deepEqual(ids(gone), [s.id]);
        });

        it('keeps a session 1 ms before lastAccessedAt + idleTimeoutMs and deletes it exactly then', async () => {
          const s = newSession({ createdAt: T0, lastAccessedAt: T0 + MINUTE, idleTimeoutMs: 10 * MINUTE, expiresAt: T0 + 24 * HOUR });
          await sessions.createSession(s);
          assert.deepEqual(await sessions.deleteExpiredSessions(T0 + 11 * MINUTE - 1), []);
          assert.deepEqual(await sessions.getSession(s.id), s);
          assert.deepEqual(await sessions.deleteExpiredSessions(T0 + 11 * MINUTE), [s]);
          assert.equal(await sessions.findSessionByTokenHash(s.tokenHash), null);
        });

        it('never idle-expires a session whose idleTimeoutMs is 0', async () => {
          const s = newSession({ idleTimeoutMs: 0, expiresAt: T0 + 1000 * HOUR });
          await sessions.createSession(s);
          assert.deepEqual(await sessions.deleteExpiredSessions(T0 + 1000 * HOUR - 1), []);
          assert.deepEqual(await sessions.getSession(s.id), s);
        });

        it('returns the deleted records in full and leaves live sessions alone', async () => {
          const idle = newSession({ username: 'alice', idleTimeoutMs: 5 * MINUTE, expiresAt: T0 + HOUR, roles: ['Auditor', '管理者'] });
          const old = newSession({ username: 'bob', idleTimeoutMs: 0, expiresAt: T0 + 10 * MINUTE });
          const live = newSession({ username: 'alice', createdAt: T0 + 9 * MINUTE, idleTimeoutMs: 5 * MINUTE, expiresAt: T0 + HOUR });
          for (const s of [idle, old, live]) await sessions.createSession(s);
          const gone = await sessions.deleteExpiredSessions(T0 + 10 * MINUTE);
          const byId = (a: SessionRecord, b: SessionRecord) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
          assert.deepEqual([...gone].sort(byId), [idle, old].sort(byId));
          assert.deepEqual(ids(await sessions.listSessions()), [live.id]);
          assert.deepEqual(await sessions.getSession(live.id), live);
          assert.deepEqual(await sessions.deleteExpiredSessions(T0 + 10 * MINUTE), [], 'a second sweep at the same time deletes nothing more');
        });

        it('keeps alive a session whose touch is still pending, and reports the touched time once it expires', async () => {
          const s = newSession({ idleTimeoutMs: 10 * MINUTE, expiresAt: T0 + 24 * HOUR });
          await sessions.createSession(s);
          await sessions.touchSession(s.id, T0 + 6 * MINUTE);
          assert.deepEqual(await sessions.deleteExpiredSessions(T0 + 10 * MINUTE), []);
          assert.deepEqual(await sessions.deleteExpiredSessions(T0 + 16 * MINUTE - 1), []);
          assert.equal((await sessions.getSession(s.id))?.lastAccessedAt, T0 + 6 * MINUTE);
          assert.deepEqual(await sessions.deleteExpiredSessions(T0 + 16 * MINUTE), [{ ...s, lastAccessedAt: T0 + 6 * MINUTE }]);
        });

        it('returns an empty list when nothing has expired', async () => {
          await sessions.createSession(newSession());
          assert.deepEqual(await sessions.deleteExpiredSessions(T0), []);
          assert.equal((await sessions.listSessions()).length, 1);
        });
      });
    });

    describe('createSessionWithinLimit', () => {
      it('creates sessions while the user has fewer than the limit alive and refuses the one beyond it', async () => {
        assert.equal(await limits.createSessionWithinLimit(newSession(), 2, T0), true);
        assert.equal(await limits.createSessionWithinLimit(newSession(), 2, T0), true);
        const third = newSession();
        assert.equal(await limits.createSessionWithinLimit(third, 2, T0), false);
        assert.equal(await sessions.getSession(third.id), null, 'the refused session was not stored');
        assert.equal((await sessions.listSessions({ username: 'alice' })).length, 2);
      });

      it("counts only the user's own sessions, and only those alive at now (the exact boundary counts as ended)", async () => {
        await sessions.createSession(newSession({ username: 'bob' }));
        await sessions.createSession(newSession({ expiresAt: T0 + MINUTE }));
        assert.equal(await limits.createSessionWithinLimit(newSession({ createdAt: T0 + MINUTE - 1 }), 2, T0 + MINUTE - 1), true);
        assert.equal(await limits.createSessionWithinLimit(newSession({ createdAt: T0 + MINUTE - 1 }), 2, T0 + MINUTE - 1), false);
        assert.equal(await limits.createSessionWithinLimit(newSession({ createdAt: T0 + MINUTE }), 2, T0 + MINUTE), true);
      });

      it('treats limit 0 as no limit', async () => {
        for (let i = 0; i < 5; i++) assert.equal(await limits.createSessionWithinLimit(newSession(), 0, T0), true);
        assert.equal((await sessions.listSessions()).length, 5);
      });

      it('never exceeds the limit when 10 sessions are created in parallel', async () => {
        const results = await Promise.all(Array.from({ length: 10 }, () => limits.createSessionWithinLimit(newSession(), 3, T0)));
        assert.equal(results.filter(Boolean).length, 3);
        assert.equal((await sessions.listSessions({ username: 'alice' })).length, 3);
      });

      it('makes a created session findable by its token hash at once', async () => {
        const s = newSession();
        await limits.createSessionWithinLimit(s, 3, T0);
        assert.deepEqual(await sessions.findSessionByTokenHash(s.tokenHash), s);
      });
    });

    describe('login failure counters', () => {
      const rule = { limit: 3, windowMs: HOUR, lockMs: 10 * MINUTE };

      it('counts failures one by one and locks exactly at the limit, reporting lockedNow once', async () => {
        const a = await guard.recordLoginFailure('account', 'alice', T0, rule);
        const b = await guard.recordLoginFailure('account', 'alice', T0 + 1, rule);
        const c = await guard.recordLoginFailure('account', 'alice', T0 + 2, rule);
        const d = await guard.recordLoginFailure('account', 'alice', T0 + 3, rule);
        assert.deepEqual([a.count, b.count, c.count, d.count], [1, 2, 3, 4]);
        assert.deepEqual([a.lockedNow, b.lockedNow, c.lockedNow, d.lockedNow], [false, false, true, false]);
        assert.deepEqual([a.locked, b.locked, c.locked, d.locked], [false, false, true, true]);
        assert.equal(c.lockedUntil, T0 + 2 + 10 * MINUTE);
        assert.equal(d.lockedUntil, T0 + 2 + 10 * MINUTE, 'failures while locked do not extend the lock');
      });

      it('counts 20 parallel failures as exactly 20, and exactly one of them locks, the 20th', async () => {
        const r = { limit: 20, windowMs: HOUR, lockMs: HOUR };
        const all = await Promise.all(Array.from({ length: 20 }, () => guard.recordLoginFailure('account', 'alice', T0, r)));
        assert.deepEqual(all.map((x) => x.count).sort((x, y) => x - y), Array.from({ length: 20 }, (_, i) => i + 1));
        const lockers = all.filter((x) => x.lockedNow);
        assert.equal(lockers.length, 1);
        assert.equal(lockers[0]!.count, 20);
        assert.deepEqual(await guard.getLoginFailures('account', 'alice', T0, HOUR), { count: 20, locked: true, lockedUntil: T0 + HOUR });
      });

      it('reads a lock as ended exactly at lockedUntil, and the next failure starts a fresh run', async () => {
        for (let i = 0; i < 3; i++) await guard.recordLoginFailure('account', 'alice', T0, rule);
        assert.equal((await guard.getLoginFailures('account', 'alice', T0 + 10 * MINUTE - 1, HOUR)).locked, true);
        assert.deepEqual(await guard.getLoginFailures('account', 'alice', T0 + 10 * MINUTE, HOUR), { count: 0, locked: false, lockedUntil: 0 });
        const next = await guard.recordLoginFailure('account', 'alice', T0 + 10 * MINUTE, rule);
        assert.deepEqual(next, { count: 1, locked: false, lockedUntil: 0, lockedNow: false });
      });

      it('forgets unlocked failures exactly windowMs after the first of the run', async () => {
        await guard.recordLoginFailure('source', '192.0.2.1', T0, rule);
        await guard.recordLoginFailure('source', '192.0.2.1', T0 + 30 * MINUTE, rule);
        assert.equal((await guard.getLoginFailures('source', '192.0.2.1', T0 + HOUR - 1, HOUR)).count, 2);
        assert.equal((await guard.getLoginFailures('source', '192.0.2.1', T0 + HOUR, HOUR)).count, 0);
        assert.equal((await guard.recordLoginFailure('source', '192.0.2.1', T0 + HOUR, rule)).count, 1);
      });

      it('locks until cleared when lockMs is 0, and never locks when limit is 0', async () => {
        const forever = { limit: 2, windowMs: HOUR, lockMs: 0 };
        await guard.recordLoginFailure('account', 'alice', T0, forever);
        const locked = await guard.recordLoginFailure('account', 'alice', T0, forever);
        assert.equal(locked.lockedUntil, LOCKED_UNTIL_CLEARED);
        assert.equal((await guard.getLoginFailures('account', 'alice', T0 + 1000 * 24 * HOUR, HOUR)).locked, true);
        assert.equal(await guard.clearLoginFailures('account', 'alice'), true);
        assert.equal(await guard.clearLoginFailures('account', 'alice'), false);
        assert.equal((await guard.getLoginFailures('account', 'alice', T0, HOUR)).locked, false);
        for (let i = 0; i < 5; i++) assert.equal((await guard.recordLoginFailure('account', 'bob', T0, { ...forever, limit: 0 })).locked, false);
      });

      it('keeps scopes and subjects apart: an account and a source of the same name are two counters', async () => {
        await guard.recordLoginFailure('account', 'x', T0, rule);
        await guard.recordLoginFailure('account', 'x', T0, rule);
        await guard.recordLoginFailure('source', 'x', T0, rule);
        assert.equal((await guard.getLoginFailures('account', 'x', T0, HOUR)).count, 2);
        assert.equal((await guard.getLoginFailures('source', 'x', T0, HOUR)).count, 1);
        assert.equal((await guard.getLoginFailures('account', 'X', T0, HOUR)).count, 0);
      });

      it('remembers the latest successful login per user and source', async () => {
        assert.equal(await guard.lastLoginFromSource('alice', '192.0.2.1'), null);
        await guard.rememberLoginSource('alice', '192.0.2.1', T0 + 5);
        await guard.rememberLoginSource('alice', '192.0.2.1', T0 + 1);
        assert.equal(await guard.lastLoginFromSource('alice', '192.0.2.1'), T0 + 5);
        assert.equal(await guard.lastLoginFromSource('bob', '192.0.2.1'), null);
      });

      it('prunes finished counters and old sources, but never a live lock', async () => {
        await guard.recordLoginFailure('account', 'old', T0, rule);
        await guard.recordLoginFailure('account', 'forever', T0, { limit: 1, windowMs: HOUR, lockMs: 0 });
        await guard.recordLoginFailure('account', 'recent', T0 + 2 * HOUR, rule);
        await guard.rememberLoginSource('alice', 'a', T0);
        await guard.rememberLoginSource('alice', 'b', T0 + 2 * HOUR);
        assert.equal(await guard.pruneLoginGuard(T0 + 2 * HOUR, T0 + HOUR, T0 + HOUR), 2);
        assert.equal((await guard.getLoginFailures('account', 'forever', T0 + 2 * HOUR, HOUR)).locked, true);
        assert.equal((await guard.getLoginFailures('account', 'recent', T0 + 2 * HOUR, HOUR)).count, 1);
        assert.equal(await guard.lastLoginFromSource('alice', 'a'), null);
        assert.equal(await guard.lastLoginFromSource('alice', 'b'), T0 + 2 * HOUR);
      });
    });

    describe('listing for operators', () => {
      const rule = { limit: 3, windowMs: HOUR, lockMs: 10 * MINUTE };

      it('lists the live counters of one scope, most failures first, as getLoginFailures reads them', async () => {
        for (let i = 0; i < 3; i++) await guard.recordLoginFailure('source', '192.0.2.7', T0, rule); // locked
        await guard.recordLoginFailure('source', '192.0.2.8', T0, rule);
        await guard.recordLoginFailure('source', '192.0.2.8', T0 + 1, rule);
        await guard.recordLoginFailure('source', '192.0.2.9', T0 - HOUR, rule); // window over
        await guard.recordLoginFailure('account', 'alice', T0, rule); // other scope
        const list = await guard.listLoginFailures('source', T0 + 2, HOUR, 10);
        assert.deepEqual(list, [
          { subject: '192.0.2.7', count: 3, firstAt: T0, locked: true, lockedUntil: T0 + 10 * MINUTE },
          { subject: '192.0.2.8', count: 2, firstAt: T0, locked: false, lockedUntil: 0 },
        ]);
        assert.deepEqual((await guard.listLoginFailures('source', T0 + 2, HOUR, 1)).map((e) => e.subject), ['192.0.2.7'], 'at most limit');
        // The lock has ended and the run's window too: nothing is live.
        assert.deepEqual(await guard.listLoginFailures('source', T0 + HOUR, HOUR, 10), []);
        assert.deepEqual((await guard.listLoginFailures('account', T0, HOUR, 10)).map((e) => [e.subject, e.count]), [['alice', 1]]);
        await guard.clearLoginFailures('source', '192.0.2.7');
        assert.deepEqual((await guard.listLoginFailures('source', T0 + 2, HOUR, 10)).map((e) => e.subject), ['192.0.2.8']);
      });

      it('lists a lock until cleared as locked at any later time', async () => {
        await guard.recordLoginFailure('account', 'bob', T0, { limit: 1, windowMs: HOUR, lockMs: 0 });
        const [e] = await guard.listLoginFailures('account', T0 + 1000 * HOUR, HOUR, 10);
        assert.deepEqual(e, { subject: 'bob', count: 1, firstAt: T0, locked: true, lockedUntil: LOCKED_UNTIL_CLEARED });
      });

      it('lists remembered logins used since a time, newest first, at most limit', async () => {
        await guard.rememberLoginSource('alice', '192.0.2.1', T0);
        await guard.rememberLoginSource('bob', '2001:db8::/64', T0 + 2);
        await guard.rememberLoginSource('alice', '192.0.2.2', T0 + 1);
        await guard.rememberLoginSource('carol', '192.0.2.3', T0 - HOUR);
        assert.deepEqual(await guard.listLoginSources(T0, 10), [
          { username: 'bob', source: '2001:db8::/64', at: T0 + 2 },
          { username: 'alice', source: '192.0.2.2', at: T0 + 1 },
          { username: 'alice', source: '192.0.2.1', at: T0 },
        ]);
        assert.deepEqual((await guard.listLoginSources(T0 - HOUR, 2)).map((e) => e.username), ['bob', 'alice']);
        await guard.rememberLoginSource('alice', '192.0.2.1', T0 + 5);
        assert.deepEqual((await guard.listLoginSources(T0 + 3, 10)).map((e) => [e.username, e.source, e.at]), [['alice', '192.0.2.1', T0 + 5]]);
      });
    });

    describe('password history', () => {
      it('returns the newest entries first, at most limit, and keeps only the newest keep', async () => {
        for (let i = 1; i <= 4; i++) await history.addPasswordHistory('alice', `hash-${i}`, T0 + i, 3);
        assert.deepEqual(await history.getPasswordHistory('alice', 10), [
          { passwordHash: 'hash-4', at: T0 + 4 },
          { passwordHash: 'hash-3', at: T0 + 3 },
          { passwordHash: 'hash-2', at: T0 + 2 },
        ]);
        assert.deepEqual(await history.getPasswordHistory('alice', 1), [{ passwordHash: 'hash-4', at: T0 + 4 }]);
        assert.deepEqual(await history.getPasswordHistory('alice', 0), []);
      });

      it("keeps users apart and forgets one user's history on request", async () => {
        await history.addPasswordHistory('alice', 'a1', T0, 5);
        await history.addPasswordHistory('bob', 'b1', T0, 5);
        await history.deletePasswordHistory('alice');
        assert.deepEqual(await history.getPasswordHistory('alice', 5), []);
        assert.deepEqual(await history.getPasswordHistory('bob', 5), [{ passwordHash: 'b1', at: T0 }]);
      });
    });

    describe('second factors', () => {
      it('keeps an enrolment unconfirmed until confirmSecondFactor, which stores the recovery hashes with it', async () => {
        assert.equal(await factors.getSecondFactor('alice'), null);
        await factors.putSecondFactor('alice', 'JBSWY3DPEHPK3PXP', T0);
        assert.deepEqual(await factors.getSecondFactor('alice'), { username: 'alice', secret: 'JBSWY3DPEHPK3PXP', createdAt: T0, confirmedAt: null, lastStep: -1, recoveryLeft: 0 });
        assert.deepEqual(await factors.listSecondFactorUsers(), []);
        // An unconfirmed factor cannot be used at login.
        assert.equal(await factors.claimTotpStep('alice', 5), false);
        assert.equal(await factors.confirmSecondFactor('alice', 100, ['h1', 'h2', 'h3'], T0 + SECOND), true);
        assert.equal(await factors.confirmSecondFactor('alice', 101, ['h4'], T0 + 2 * SECOND), false, 'confirmed once');
        assert.deepEqual(await factors.getSecondFactor('alice'), { username: 'alice', secret: 'JBSWY3DPEHPK3PXP', createdAt: T0, confirmedAt: T0 + SECOND, lastStep: 100, recoveryLeft: 3 });
        assert.deepEqual(await factors.listSecondFactorUsers(), ['alice']);
      });

      it('claims a TOTP step once: the same or an earlier step is refused (no replay), a later one is accepted', async () => {
        await factors.putSecondFactor('alice', 'S', T0);
        await factors.confirmSecondFactor('alice', 10, [], T0);
        assert.equal(await factors.claimTotpStep('alice', 10), false);
        assert.equal(await factors.claimTotpStep('alice', 9), false);
        assert.equal(await factors.claimTotpStep('alice', 11), true);
        assert.equal(await factors.claimTotpStep('alice', 11), false);
        assert.equal(await factors.claimTotpStep('bob', 50), false, 'no factor, nothing claimed');
        assert.equal((await factors.getSecondFactor('alice'))!.lastStep, 11);
      });

      it('claims a step exactly once when logins race with the same code', async () => {
        await factors.putSecondFactor('alice', 'S', T0);
        await factors.confirmSecondFactor('alice', 1, [], T0);
        const results = await Promise.all(Array.from({ length: 8 }, () => factors.claimTotpStep('alice', 2)));
        assert.equal(results.filter(Boolean).length, 1);
      });

      it('spends each recovery code once, also under a race', async () => {
        await factors.putSecondFactor('alice', 'S', T0);
        await factors.confirmSecondFactor('alice', 1, ['r1', 'r2'], T0);
        const results = await Promise.all(Array.from({ length: 6 }, () => factors.consumeRecoveryCode('alice', 'r1')));
        assert.equal(results.filter(Boolean).length, 1);
        assert.equal(await factors.consumeRecoveryCode('alice', 'nope'), false);
        assert.equal(await factors.consumeRecoveryCode('bob', 'r2'), false, "another user's code");
        assert.equal((await factors.getSecondFactor('alice'))!.recoveryLeft, 1);
      });

      it('a new enrolment replaces the old factor and its codes; delete removes both', async () => {
        await factors.putSecondFactor('alice', 'OLD', T0);
        await factors.confirmSecondFactor('alice', 7, ['r1'], T0);
        await factors.putSecondFactor('alice', 'NEW', T0 + MINUTE);
        const f = (await factors.getSecondFactor('alice'))!;
        assert.equal(f.secret, 'NEW');
        assert.equal(f.confirmedAt, null);
        assert.equal(f.recoveryLeft, 0);
        assert.equal(f.lastStep, -1);
        assert.equal(await factors.deleteSecondFactor('alice'), true);
        assert.equal(await factors.deleteSecondFactor('alice'), false);
        assert.equal(await factors.getSecondFactor('alice'), null);
      });
    });

    describe('settings', () => {
      it('starts empty, stores named values and leaves others as they are', async () => {
        assert.deepEqual(await settings.getSettings(), {});
        await settings.putSettings({ LockoutTime: 30, MaximumLoginFailures: 10 }, T0);
        await settings.putSettings({ LockoutTime: 0 }, T0 + 1);
        assert.deepEqual(await settings.getSettings(), { LockoutTime: 0, MaximumLoginFailures: 10 });
      });
    });

    describe('audit', () => {
      const event = (over: Partial<Parameters<AuditStore['appendAudit']>[0]> = {}) => ({
        at: T0,
        kind: 'login.failure',
        username: 'alice',
        clientAddress: '192.0.2.1',
        dialect: 'hcx',
        requestId: 'req-1',
        detail: { reason: 'invalid_credentials', count: 1, trusted: false, none: null },
        ...over,
      });

      it('returns appended events oldest first with every field intact and an increasing seq', async () => {
        await audit.appendAudit(event());
        await audit.appendAudit(event({ kind: 'login.success', at: T0 + 1, detail: {} }));
        const all = await audit.queryAudit();
        assert.equal(all.length, 2);
        assert.ok(all[0]!.seq < all[1]!.seq);
        const { seq: _s, ...first } = all[0]!;
        assert.deepEqual(first, event());
        assert.equal(all[1]!.kind, 'login.success');
      });

      it('filters by user, exact kind, kind family ("login."), since (inclusive) and keeps the newest limit', async () => {
        await audit.appendAudit(event({ at: T0 }));
        await audit.appendAudit(event({ at: T0 + 1, kind: 'login.success' }));
        await audit.appendAudit(event({ at: T0 + 2, kind: 'account.lock' }));
        await audit.appendAudit(event({ at: T0 + 3, username: 'bob' }));
        assert.deepEqual((await audit.queryAudit({ username: 'bob' })).map((e) => e.at), [T0 + 3]);
        assert.deepEqual((await audit.queryAudit({ kind: 'login.failure' })).map((e) => e.at), [T0, T0 + 3]);
        assert.deepEqual((await audit.queryAudit({ kind: 'login.' })).map((e) => e.at), [T0, T0 + 1, T0 + 3]);
        assert.deepEqual((await audit.queryAudit({ kind: 'login' })).map((e) => e.at), []);
        assert.deepEqual((await audit.queryAudit({ since: T0 + 2 })).map((e) => e.at), [T0 + 2, T0 + 3]);
        assert.deepEqual((await audit.queryAudit({ limit: 2 })).map((e) => e.at), [T0 + 2, T0 + 3]);
      });

      it('prunes events before a time and returns how many', async () => {
        await audit.appendAudit(event({ at: T0 }));
        await audit.appendAudit(event({ at: T0 + HOUR }));
        assert.equal(await audit.pruneAudit(T0 + HOUR), 1);
        assert.deepEqual((await audit.queryAudit()).map((e) => e.at), [T0 + HOUR]);
      });
    });
  });
}
