import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { LoginCommand, RequestContext, RoleRequirement } from '../../src/core/sessions.js';
import { hasRequiredRole, isExpired } from '../../src/core/sessions.js';
import { ManualClock } from '../../src/ports/clock.js';
import type { SessionRecord } from '../../src/ports/store.js';
import { addUser, harness, type Harness } from '../helpers.js';

/*
 * SessionService on a real Portcullis (SQLite file in a temp dir) with a clock
 * moved by hand, so every expiry is checked at its exact boundary.
 */

const START = Date.UTC(2026, 10, 23, 9, 0, 0);
const MINUTE = 60_000;
const CTX: RequestContext = { requestId: 'req-1', clientAddress: '192.0.2.7', dialect: 'hcx' };
const ALICE = { username: 'alice', password: 'Alice-Pass-1', roles: ['System Administrator'] };
const BOB = { username: 'bob', password: 'Bob-Pass-123', roles: ['Operator'] };

function cmd(user: { username: string; password: string }, requiredRoles: RoleRequirement = 'any'): LoginCommand {
  return { provider: 'local', username: user.username, password: user.password, requiredRoles };
}

async function login(h: Harness, user: { username: string; password: string }): Promise<{ token: string; session: SessionRecord }> {
  const r = await h.p.sessions.login(cmd(user), CTX);
  assert.equal(r.kind, 'ok', `login of ${user.username} succeeds`);
  if (r.kind !== 'ok') throw new Error('unreachable');
  return { token: r.token, session: r.session };
}

/** Waits for fire-and-forget work (deleting an expired session on sight) to settle. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('SessionService login', () => {
  let h: Harness;
  let clock: ManualClock;
  beforeEach(async () => {
    clock = new ManualClock(START);
    h = await harness({ clock });
    await addUser(h, ALICE.username, ALICE.password, ALICE.roles);
  });
  afterEach(() => h.close());

  it('returns a fresh, well-shaped token and session id at every login', async () => {
    const a = await login(h, ALICE);
    const b = await login(h, ALICE);
    assert.match(a.token, /^[A-Za-z0-9_-]{43}$/);
    assert.match(a.session.id, /^[a-z2-7]{26}$/);
    assert.notEqual(a.token, b.token);
    assert.notEqual(a.session.id, b.session.id);
    assert.notEqual(a.session.csrf, b.session.csrf);
    assert.equal((await h.p.sessions.listSessions({ username: 'alice' })).length, 2);
  });

  it('records who, where, when and until when in the session', async () => {
    const { session } = await login(h, ALICE);
    const policy = h.p.sessions.policy;
    assert.equal(session.username, 'alice');
    assert.deepEqual(session.roles, ALICE.roles);
    assert.equal(session.createdAt, START);
    assert.equal(session.lastAccessedAt, START);
    assert.equal(session.idleTimeoutMs, 24 * MINUTE);
    assert.equal(policy.idleTimeoutMs, 24 * MINUTE);
    assert.equal(session.expiresAt, START + policy.absoluteLifetimeMs);
    assert.equal(session.clientAddress, CTX.clientAddress);
    assert.equal(session.dialect, 'hcx');
    assert.equal(session.authSource, 'local');
  });

  it('stores only the SHA-256 of the token: neither the token nor its bytes appear in any row or in the database files', async () => {
    const { token, session } = await login(h, ALICE);
    const hash = createHash('sha256').update(token).digest();
    assert.deepEqual(session.tokenHash, hash);

    const rows = h.p.store.db.prepare('SELECT * FROM sessions').all() as Record<string, unknown>[];
    assert.equal(rows.length, 1);
    assert.deepEqual(rows[0]!.token_hash, hash, 'the stored hash is the SHA-256 of the token');
    for (const [column, value] of Object.entries(rows[0]!)) {
      const text = Buffer.isBuffer(value) ? value.toString('latin1') : String(value);
      assert.ok(!text.includes(token), `column ${column} does not hold the token`);
    }

    const raw = Buffer.from(token, 'base64url');
    const files = readdirSync(h.config.dataDir).filter((f) => f.startsWith('portcullis.db'));
    assert.ok(files.includes('portcullis.db'));
    let searched = 0;
    for (const f of files) {
      const bytes = readFileSync(join(h.config.dataDir, f));
      searched += bytes.length;
      assert.equal(bytes.indexOf(token, 0, 'latin1'), -1, `${f} does not contain the token`);
      assert.equal(bytes.indexOf(raw), -1, `${f} does not contain the token's random bytes`);
    }
    const all = Buffer.concat(files.map((f) => readFileSync(join(h.config.dataDir, f))));
    assert.notEqual(all.indexOf(hash), -1, `the files (${searched} bytes) do hold the hash, so the search looked in the right place`);
  });

  it('refuses a wrong password or an unknown user with the same invalid_credentials value and makes no session', async () => {
    assert.deepEqual(await h.p.sessions.login(cmd({ username: 'alice', password: 'wrong-password' }), CTX), { kind: 'invalid_credentials' });
    assert.deepEqual(await h.p.sessions.login(cmd({ username: 'nobody', password: 'wrong-password' }), CTX), { kind: 'invalid_credentials' });
    assert.deepEqual(await h.p.sessions.listSessions(), []);
  });

  it('never logs the password or the token', async () => {
    const { token } = await login(h, ALICE);
    await h.p.sessions.login(cmd({ username: 'alice', password: 'Wrong-Secret-9' }), CTX);
    await h.p.sessions.authenticate(token, true);
    const text = h.logger.text();
    assert.ok(text.includes('login.success'), 'the login was logged');
    assert.ok(!text.includes(ALICE.password));
    assert.ok(!text.includes('Wrong-Secret-9'));
    assert.ok(!text.includes(token));
  });
});

describe('SessionService authenticate and expiry', () => {
  let h: Harness;
  let clock: ManualClock;
  const IDLE = 10 * MINUTE;
  const ABSOLUTE = 60 * MINUTE;
  beforeEach(async () => {
    clock = new ManualClock(START);
    h = await harness({ clock, overrides: { 'session.inactivityTimeoutMinutes': 10, 'session.absoluteTimeoutMinutes': 60 } });
    await addUser(h, ALICE.username, ALICE.password, ALICE.roles);
    await addUser(h, BOB.username, BOB.password, BOB.roles);
  });
  afterEach(() => h.close());

  it('resolves a live token to its session, and anything else to null', async () => {
    const { token, session } = await login(h, ALICE);
    assert.equal((await h.p.sessions.authenticate(token, false))?.id, session.id);
    assert.equal(await h.p.sessions.authenticate(undefined, false), null);
    assert.equal(await h.p.sessions.authenticate('', false), null);
    assert.equal(await h.p.sessions.authenticate(`${token}x`, false), null);
    const other = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;
    assert.equal(await h.p.sessions.authenticate(other, false), null);
  });

  it('authenticateNow answers from memory with the same rules, and leaves everything else to authenticate (undefined)', async () => {
    const { token, session } = await login(h, ALICE);
    // A new session is held in memory: answered at once, not a promise.
    const now = h.p.sessions.authenticateNow(token, false);
    assert.ok(now && !(now instanceof Promise));
    assert.equal(now.id, session.id);
    // Not answered from memory: no token, a wrong length, an unknown token, another shape of the same length.
    assert.equal(h.p.sessions.authenticateNow(undefined, false), undefined);
    assert.equal(h.p.sessions.authenticateNow(`${token}x`, false), undefined);
    assert.equal(h.p.sessions.authenticateNow(`${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`, false), undefined);
    assert.equal(h.p.sessions.authenticateNow('é'.repeat(43), false), undefined);
    // The touch, as authenticate's: renewed in memory and in the store's reads.
    clock.advance(9 * MINUTE);
    assert.equal(h.p.sessions.authenticateNow(token, true)?.lastAccessedAt, START + 9 * MINUTE);
    assert.equal((await h.p.store.getSession(session.id))?.lastAccessedAt, START + 9 * MINUTE);
    // Expired: not answered here; authenticate ends it and says null.
    clock.set(START + 19 * MINUTE);
    assert.equal(h.p.sessions.authenticateNow(token, false), undefined);
    assert.equal(await h.p.sessions.authenticate(token, false), null);
    // A store without memory (cachedSession absent): never answered here.
    const cached = h.p.store.cachedSession;
    try {
      (h.p.store as { cachedSession?: unknown }).cachedSession = undefined;
      const fresh = await login(h, BOB);
      assert.equal(h.p.sessions.authenticateNow(fresh.token, false), undefined);
      assert.equal((await h.p.sessions.authenticate(fresh.token, false))?.id, fresh.session.id);
    } finally {
      h.p.store.cachedSession = cached;
    }
  });

  it('renews the idle timer when it touches: a session used every 9 minutes outlives the 10-minute timeout', async () => {
    const { token, session } = await login(h, ALICE);
    clock.advance(9 * MINUTE);
    assert.ok(await h.p.sessions.authenticate(token, true));
    assert.equal((await h.p.store.getSession(session.id))?.lastAccessedAt, START + 9 * MINUTE);
    clock.advance(9 * MINUTE);
    const s = await h.p.sessions.authenticate(token, true);
    assert.ok(s, 'alive at 18 minutes: last used at 9');
    assert.equal(s.lastAccessedAt, START + 18 * MINUTE);
    clock.set(START + 28 * MINUTE - 1);
    assert.ok(await h.p.sessions.authenticate(token, false), 'alive 1 ms before 10 minutes after the last use');
    clock.set(START + 28 * MINUTE);
    assert.equal(await h.p.sessions.authenticate(token, false), null, 'ended 10 minutes after the last use');
  });

  it('does not renew the idle timer without touch (automated polling)', async () => {
    const { token, session } = await login(h, ALICE);
    clock.advance(9 * MINUTE);
    const polled = await h.p.sessions.authenticate(token, false);
    assert.equal(polled?.lastAccessedAt, START);
    assert.equal((await h.p.store.getSession(session.id))?.lastAccessedAt, START);
    clock.set(START + IDLE);
    assert.equal(await h.p.sessions.authenticate(token, false), null);
  });

  it('keeps a session alive 1 ms before the idle boundary and ends it exactly at lastAccessedAt + idle timeout', async () => {
    const { token } = await login(h, ALICE);
    clock.set(START + IDLE - 1);
    assert.ok(await h.p.sessions.authenticate(token, false), 'alive 1 ms before');
    clock.set(START + IDLE);
    assert.equal(await h.p.sessions.authenticate(token, false), null, 'ended at the boundary');
  });

  it('keeps a session alive 1 ms before the absolute lifetime and ends it exactly then, however recently used', async () => {
    const { token } = await login(h, ALICE);
    for (let t = 5 * MINUTE; t < ABSOLUTE; t += 5 * MINUTE) {
      clock.set(START + t);
      assert.ok(await h.p.sessions.authenticate(token, true), `alive at ${t / MINUTE} min`);
    }
    clock.set(START + ABSOLUTE - 1);
    assert.ok(await h.p.sessions.authenticate(token, true), 'alive 1 ms before the absolute end');
    clock.set(START + ABSOLUTE);
    assert.equal(await h.p.sessions.authenticate(token, true), null, 'ended at the absolute end');
  });

  it('ends a session at its absolute lifetime when the idle timeout is 0 (never)', async () => {
    const never = await harness({ clock: new ManualClock(START), overrides: { 'session.inactivityTimeoutMinutes': 0, 'session.absoluteTimeoutMinutes': 60 } });
    try {
      await addUser(never, ALICE.username, ALICE.password, ALICE.roles);
      const { token, session } = await login(never, ALICE);
      assert.equal(session.idleTimeoutMs, 0);
      (never.clock as ManualClock).set(START + ABSOLUTE - 1);
      assert.ok(await never.p.sessions.authenticate(token, false), 'unused for 59 minutes and still alive');
      (never.clock as ManualClock).set(START + ABSOLUTE);
      assert.equal(await never.p.sessions.authenticate(token, false), null);
    } finally {
      await never.close();
    }
  });

  it('deletes an expired session found on authenticate and logs session.expire', async () => {
    const { token, session } = await login(h, ALICE);
    clock.set(START + IDLE);
    assert.equal(await h.p.sessions.authenticate(token, true), null);
    await settle();
    assert.equal(await h.p.store.getSession(session.id), null);
    assert.ok(h.logger.lines.some((l) => (l.obj as { event?: string; session?: string }).event === 'session.expire' && (l.obj as { session?: string }).session === session.id));
  });

  it('hides expired sessions from getSession and listSessions before any sweep', async () => {
    const old = await login(h, ALICE);
    clock.set(START + 5 * MINUTE);
    const fresh = await login(h, BOB);
    clock.set(START + IDLE);
    assert.equal(await h.p.sessions.getSession(old.session.id), null);
    assert.equal((await h.p.sessions.getSession(fresh.session.id))?.id, fresh.session.id);
    assert.deepEqual((await h.p.sessions.listSessions()).map((s) => s.id), [fresh.session.id]);
  });

  it('isExpired says alive strictly before each boundary and expired at it', () => {
    const s = { idleTimeoutMs: IDLE, lastAccessedAt: START, expiresAt: START + ABSOLUTE } as SessionRecord;
    assert.equal(isExpired(s, START + IDLE - 1), false);
    assert.equal(isExpired(s, START + IDLE), true);
    const noIdle = { ...s, idleTimeoutMs: 0 };
    assert.equal(isExpired(noIdle, START + ABSOLUTE - 1), false);
    assert.equal(isExpired(noIdle, START + ABSOLUTE), true);
  });

  it("revokeUserSessions ends every session of that user, returns how many, and leaves other users' sessions", async () => {
    const a1 = await login(h, ALICE);
    const a2 = await login(h, ALICE);
    const b1 = await login(h, BOB);
    assert.equal(await h.p.sessions.revokeUserSessions('alice', CTX, 'admin'), 2);
    assert.equal(await h.p.sessions.authenticate(a1.token, false), null);
    assert.equal(await h.p.sessions.authenticate(a2.token, false), null);
    assert.equal((await h.p.sessions.authenticate(b1.token, false))?.id, b1.session.id);
    assert.equal(await h.p.sessions.revokeUserSessions('alice', CTX, 'admin'), 0);
    assert.ok(h.logger.lines.some((l) => (l.obj as { event?: string }).event === 'session.revoke_user'));
  });

  it("lists and revokes a user's sessions under any Unicode spelling of the name, as login accepts it", async () => {
    await addUser(h, 'jos\u00e9', 'Jose-Pass-12', ['Operator']);
    const { session } = await login(h, { username: 'jose\u0301', password: 'Jose-Pass-12' });
    assert.equal(session.username, 'jos\u00e9', 'the session carries the stored (NFC) name');
    assert.deepEqual((await h.p.sessions.listSessions({ username: 'jos\u00e9' })).map((s) => s.id), [session.id]);
    assert.deepEqual((await h.p.sessions.listSessions({ username: 'jose\u0301' })).map((s) => s.id), [session.id], 'the decomposed spelling lists it too');
    assert.equal(await h.p.sessions.revokeUserSessions('jose\u0301', CTX, 'admin'), 1);
  });

  it('revokeSession ends one session by id and says false for an unknown one', async () => {
    const a1 = await login(h, ALICE);
    const a2 = await login(h, ALICE);
    assert.equal(await h.p.sessions.revokeSession(a1.session.id, CTX, 'admin'), true);
    assert.equal(await h.p.sessions.authenticate(a1.token, false), null);
    assert.ok(await h.p.sessions.authenticate(a2.token, false));
    assert.equal(await h.p.sessions.revokeSession(a1.session.id, CTX, 'admin'), false);
    assert.equal(await h.p.sessions.revokeSession('no-such-id', CTX, 'admin'), false);
  });

  it('sweep deletes exactly the expired sessions, returns how many, and logs session.expire for each', async () => {
    const idle = await login(h, ALICE);
    clock.set(START + 4 * MINUTE);
    const used = await login(h, BOB);
    clock.set(START + 8 * MINUTE);
    await h.p.sessions.authenticate(used.token, true);
    const later = await login(h, ALICE);
    clock.set(START + IDLE);
    assert.equal(await h.p.sessions.sweep(), 1);
    const remaining = (await h.p.store.listSessions()).map((s) => s.id);
    assert.deepEqual(remaining, [used.session.id, later.session.id]);
    const expiries = h.logger.lines.filter((l) => (l.obj as { event?: string }).event === 'session.expire');
    assert.deepEqual(
      expiries.map((l) => l.obj),
      [{ event: 'session.expire', session: idle.session.id, user: 'alice' }],
    );
    clock.set(START + 8 * MINUTE + IDLE);
    assert.equal(await h.p.sessions.sweep(), 2, 'the touched session goes 10 minutes after its last use, with the later one');
    assert.equal(await h.p.sessions.sweep(), 0);
  });
});

describe('role requirement', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await harness({ clock: new ManualClock(START) });
    await addUser(h, 'noroles', 'No-Roles-Pass-1', []);
    await addUser(h, 'auditor', 'Auditor-Pass-1', ['Auditor']);
  });
  afterEach(() => h.close());

  it("'any' needs at least one role: a user without roles is forbidden and gets no session", async () => {
    const r = await h.p.sessions.login(cmd({ username: 'noroles', password: 'No-Roles-Pass-1' }, 'any'), CTX);
    assert.equal(r.kind, 'forbidden');
    assert.deepEqual(await h.p.sessions.listSessions(), []);
    assert.equal((await h.p.sessions.login(cmd({ username: 'auditor', password: 'Auditor-Pass-1' }, 'any'), CTX)).kind, 'ok');
  });

  it('a list of roles needs one of them', async () => {
    const r = await h.p.sessions.login(cmd({ username: 'auditor', password: 'Auditor-Pass-1' }, ['System Administrator']), CTX);
    assert.equal(r.kind, 'forbidden');
    assert.deepEqual(await h.p.sessions.listSessions(), []);
    assert.equal((await h.p.sessions.login(cmd({ username: 'auditor', password: 'Auditor-Pass-1' }, ['System Administrator', 'Auditor']), CTX)).kind, 'ok');
  });

  it('a wrong password is invalid_credentials, never forbidden, whatever the roles', async () => {
    assert.deepEqual(await h.p.sessions.login(cmd({ username: 'noroles', password: 'wrong-password' }, 'any'), CTX), { kind: 'invalid_credentials' });
  });

  it('hasRequiredRole matches role names exactly', () => {
    assert.equal(hasRequiredRole([], 'any'), false);
    assert.equal(hasRequiredRole(['x'], 'any'), true);
    assert.equal(hasRequiredRole(['Auditor'], ['auditor']), false);
    assert.equal(hasRequiredRole(['Auditor', 'Operator'], ['Operator']), true);
    assert.equal(hasRequiredRole(['Auditor'], []), false);
  });
});

describe('SessionService.authorize, the gate every dialect applies to a live session', () => {
  it('refuses a session without one of the dialect\'s roles, then one whose password must change, except for logout', async () => {
    const h = await harness();
    try {
      const codeOf = (f: () => void) => {
        try {
          f();
          return 'allowed';
        } catch (e) {
          return (e as { code?: string }).code;
        }
      };
      const s = h.p.sessions;
      assert.equal(codeOf(() => s.authorize({ roles: ['Operator'], mustChangePassword: false }, ['System Administrator'], 'use')), 'forbidden');
      assert.equal(codeOf(() => s.authorize({ roles: [], mustChangePassword: false }, 'any', 'use')), 'forbidden');
      assert.equal(codeOf(() => s.authorize({ roles: ['Operator'], mustChangePassword: false }, 'any', 'use')), 'allowed');
      assert.equal(codeOf(() => s.authorize({ roles: ['Operator'], mustChangePassword: true }, 'any', 'use')), 'password_change_required');
      assert.equal(codeOf(() => s.authorize({ roles: ['Operator'], mustChangePassword: true }, 'any', 'logout')), 'allowed');
      assert.equal(codeOf(() => s.authorize({ roles: ['Operator'], mustChangePassword: true }, ['Admin'], 'logout')), 'forbidden');
    } finally {
      await h.close();
    }
  });
});
