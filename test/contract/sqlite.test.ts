import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { migrations } from '../../src/adapters/store/sqlite/migrations.js';
import { SqliteStore } from '../../src/adapters/store/sqlite/store.js';
import { tempDir } from '../helpers.js';
import { runStoreContract } from './store.contract.js';

runStoreContract('SqliteStore on a file', async () => {
  const dir = tempDir('portcullis-contract-');
  const path = join(dir.path, 'store.db');
  // No flush timer: touches stay pending until a read, a sweep, flush() or close() needs them.
  let store = new SqliteStore({ path, touchFlushMs: 0 });
  return {
    accounts: store,
    sessions: store,
    limits: store,
    guard: store,
    history: store,
    secondFactors: store,
    settings: store,
    audit: store,
    flush: () => store.flushTouches(),
    reopen: async () => {
      store.close();
      store = new SqliteStore({ path, touchFlushMs: 0 });
      return { accounts: store, sessions: store };
    },
    close: () => {
      store.close();
      dir.remove();
    },
  };
});

describe('SqliteStore on disk', () => {
  const dir = tempDir('portcullis-sqlite-');
  after(() => dir.remove());

  it('creates the database file with mode 0600 (readable by its owner only)', () => {
    const path = join(dir.path, 'mode', 'store.db');
    const store = new SqliteStore({ path, touchFlushMs: 0 });
    try {
      assert.equal(statSync(path).mode & 0o777, 0o600);
    } finally {
      store.close();
    }
  });

  it('gives the write-ahead log the same 0600 mode as the database', async () => {
    const path = join(dir.path, 'wal-mode', 'store.db');
    const store = new SqliteStore({ path, touchFlushMs: 0 });
    try {
      await store.createAccount(
        { username: 'alice', roles: [], organizations: [], enterprise: 'E', disabled: false, mustChangePassword: false, passwordHash: null },
        1,
      );
      assert.ok(existsSync(`${path}-wal`), 'the -wal file exists while the store is open');
      assert.equal(statSync(`${path}-wal`).mode & 0o777, 0o600);
    } finally {
      store.close();
    }
  });

  it('puts the database in WAL journal mode', () => {
    const path = join(dir.path, 'wal', 'store.db');
    const store = new SqliteStore({ path, touchFlushMs: 0 });
    try {
      assert.equal(store.db.pragma('journal_mode', { simple: true }), 'wal');
    } finally {
      store.close();
    }
    const raw = new Database(path, { readonly: true });
    try {
      assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal', 'the mode is persisted in the file');
    } finally {
      raw.close();
    }
  });

  it('deletes expired sessions through indexes, never by reading every row', () => {
    const store = new SqliteStore({ path: join(dir.path, 'plan', 'store.db'), touchFlushMs: 0 });
    try {
      const plan = (store.db.prepare('EXPLAIN QUERY PLAN DELETE FROM sessions WHERE expires_at <= 1 OR (idle_timeout_ms > 0 AND last_accessed_at + idle_timeout_ms <= 1)').all() as { detail: string }[])
        .map((r) => r.detail)
        .join('\n');
      assert.doesNotMatch(plan, /SCAN sessions/);
      assert.match(plan, /sessions_by_idle_deadline/);
    } finally {
      store.close();
    }
  });

  it('sets the schema user_version to the number of migrations, and keeps data when opened again', async () => {
    const path = join(dir.path, 'version', 'store.db');
    const store = new SqliteStore({ path, touchFlushMs: 0 });
    assert.equal(store.db.pragma('user_version', { simple: true }), migrations.length);
    await store.createAccount(
      { username: 'alice', roles: ['r'], organizations: ['o'], enterprise: 'E', disabled: false, mustChangePassword: false, passwordHash: null },
      1,
    );
    store.close();
    const again = new SqliteStore({ path, touchFlushMs: 0 });
    try {
      assert.equal(again.db.pragma('user_version', { simple: true }), migrations.length);
      assert.equal(await again.countAccounts(), 1);
    } finally {
      again.close();
    }
  });

  it('upgrades a version-1 database (accounts and sessions only) to the policy tables, keeping its data', async () => {
    const path = join(dir.path, 'v1', 'store.db');
    mkdirSync(join(dir.path, 'v1'), { recursive: true });
    const raw = new Database(path);
    raw.exec(migrations[0] as string);
    raw.pragma('user_version = 1');
    raw.prepare(
      `INSERT INTO accounts (username, roles, organizations, enterprise, disabled, must_change_password, password_hash, created_at, updated_at)
       VALUES ('alice', '[]', '[]', 'E', 0, 0, NULL, 1, 1)`,
    ).run();
    raw.close();
    const store = new SqliteStore({ path, touchFlushMs: 0 });
    try {
      assert.equal(store.db.pragma('user_version', { simple: true }), migrations.length);
      assert.equal((await store.getAccount('alice'))?.enterprise, 'E');
      assert.deepEqual(await store.getSettings(), {});
      assert.equal((await store.recordLoginFailure('account', 'alice', 5, { limit: 2, windowMs: 10, lockMs: 10 })).count, 1);
      await store.appendAudit({ at: 5, kind: 'login.failure', username: 'alice', clientAddress: '', dialect: 'cli', requestId: '', detail: {} });
      assert.equal((await store.queryAudit()).length, 1);
    } finally {
      store.close();
    }
  });

  it('refuses to open a database whose schema version is newer than it knows, and leaves it untouched', () => {
    const path = join(dir.path, 'newer', 'store.db');
    new SqliteStore({ path, touchFlushMs: 0 }).close();
    const raw = new Database(path);
    raw.pragma(`user_version = ${migrations.length + 1}`);
    raw.close();
    assert.throws(() => new SqliteStore({ path, touchFlushMs: 0 }), /newer/);
    const check = new Database(path, { readonly: true });
    try {
      assert.equal(check.pragma('user_version', { simple: true }), migrations.length + 1);
    } finally {
      check.close();
    }
  });

  describe('write-behind of touches', () => {
    const path = join(dir.path, 'flush', 'store.db');
    let store: SqliteStore;
    let reader: Database.Database;
    before(() => {
      store = new SqliteStore({ path, touchFlushMs: 20 });
      reader = new Database(path, { readonly: true });
    });
    after(() => {
      reader.close();
      store.close();
    });

    it('writes a touch to the file within the flush interval, where another connection sees it', async () => {
      const T = Date.UTC(2026, 0, 1);
      await store.createSession({
        id: 'flushed',
        tokenHash: Buffer.alloc(32, 7),
        csrf: 'c',
        username: 'alice',
        roles: [],
        organizations: [],
        enterprise: 'E',
        mustChangePassword: false,
        createdAt: T,
        lastAccessedAt: T,
        idleTimeoutMs: 60_000,
        expiresAt: T + 3_600_000,
        clientAddress: '127.0.0.1',
        authSource: 'local',
        authServer: '127.0.0.1',
        dialect: 'hcx',
      });
      await store.touchSession('flushed', T + 5_000);
      // The touch goes to session_touches (a narrow table) until it is folded into the row: a reader joins the two, as the store does.
      const read = () =>
        reader.prepare('SELECT max(s.last_accessed_at, coalesce(t.at, 0)) FROM sessions s LEFT JOIN session_touches t ON t.id = s.id WHERE s.id = ?').pluck().get('flushed');
      const deadline = Date.now() + 2_000;
      while (read() !== T + 5_000 && Date.now() < deadline) await sleep(10);
      assert.equal(read(), T + 5_000);
    });
  });

  describe('touches in session_touches, folded into the rows', () => {
    const path = join(dir.path, 'fold', 'store.db');
    const T = Date.now();
    const rec = (id: string, byte: number) => ({
      id,
      tokenHash: Buffer.alloc(32, byte),
      csrf: 'c',
      username: 'fold-user',
      roles: [],
      organizations: [],
      enterprise: 'E',
      mustChangePassword: false,
      createdAt: T - 50_000,
      lastAccessedAt: T - 50_000,
      idleTimeoutMs: 60_000,
      expiresAt: T + 3_600_000,
      clientAddress: '127.0.0.1',
      authSource: 'local',
      authServer: '127.0.0.1',
      dialect: 'hcx',
    });

    it('a flushed touch is read back by a new store (after kill -9: nothing was folded), renews the idle timer for the sweep, and folds into the row', async () => {
      const a = new SqliteStore({ path, touchFlushMs: 0, hotSessions: 0 });
      await a.createSession(rec('touched', 21));
      await a.createSession(rec('idle', 22));
      a.touchSession('touched', T - 1_000);
      a.flushTouches();
      // A second connection, as after a crash of the first: no fold ran.
      const b = new SqliteStore({ path, touchFlushMs: 0, hotSessions: 0 });
      try {
        assert.equal((await b.getSession('touched'))?.lastAccessedAt, T - 1_000);
        assert.equal((await b.findSessionByTokenHash(Buffer.alloc(32, 21)))?.lastAccessedAt, T - 1_000);
        assert.equal((await b.listSessions({ username: 'fold-user' })).find((x) => x.id === 'touched')?.lastAccessedAt, T - 1_000);
        // 20 s later: "idle" was last used 70 s ago (over its 60 s), "touched" 21 s ago by its touch (the row says 70 s).
        const gone = await b.deleteExpiredSessions(T + 20_000);
        assert.deepEqual(gone.map((x) => x.id), ['idle']);
        assert.equal(b.db.prepare('SELECT count(*) FROM session_touches').pluck().get(), 1);
        assert.equal(b.foldTouches(), 1);
        assert.equal(b.db.prepare('SELECT count(*) FROM session_touches').pluck().get(), 0);
        assert.equal(b.db.prepare('SELECT last_accessed_at FROM sessions WHERE id = ?').pluck().get('touched'), T - 1_000);
        assert.equal((await b.getSession('touched'))?.lastAccessedAt, T - 1_000);
      } finally {
        b.close();
        a.close();
      }
    });

    it('a fold never moves a time backwards, and folds in chunks in the background once enough touches wait', async () => {
      const s = new SqliteStore({ path: join(dir.path, 'fold2', 'store.db'), touchFlushMs: 0, hotSessions: 0, touchFoldRows: 3, touchFoldMs: 3_600_000 });
      try {
        for (let i = 0; i < 4; i++) await s.createSession({ ...rec(`f${i}`, 30 + i), lastAccessedAt: T });
        s.db.prepare("INSERT INTO session_touches (id, at) VALUES ('f0', ?)").run(T - 10_000); // older than the row
        s.foldTouches();
        assert.equal(s.db.prepare('SELECT last_accessed_at FROM sessions WHERE id = ?').pluck().get('f0'), T);
        for (let i = 0; i < 4; i++) s.touchSession(`f${i}`, T + 1_000 + i);
        s.flushTouches(); // 4 waiting ≥ 3: a fold is started
        const deadline = Date.now() + 2_000;
        const waiting = () => s.db.prepare('SELECT count(*) FROM session_touches').pluck().get() as number;
        while (waiting() > 0 && Date.now() < deadline) await sleep(10);
        assert.equal(waiting(), 0);
        for (let i = 0; i < 4; i++) assert.equal(s.db.prepare('SELECT last_accessed_at FROM sessions WHERE id = ?').pluck().get(`f${i}`), T + 1_000 + i);
      } finally {
        s.close();
      }
    });
  });
});

describe('SqliteStore hot sessions', () => {
  const dir = tempDir();
  const path = join(dir.path, 'hot.db');
  after(() => dir.remove());

  function session(id: string, hashByte: number) {
    const now = Date.now();
    return {
      id,
      tokenHash: Buffer.alloc(32, hashByte),
      csrf: 'c',
      username: 'u',
      roles: ['r'],
      organizations: ['DEFAULT'],
      enterprise: 'E',
      mustChangePassword: false,
      createdAt: now,
      lastAccessedAt: now,
      idleTimeoutMs: 60_000,
      expiresAt: now + 3_600_000,
      clientAddress: '127.0.0.1',
      authSource: 'local',
      authServer: '127.0.0.1',
      dialect: 'hcx',
    };
  }

  it('forgets a hot session that another process deleted, at its next coherence check', async () => {
    const service = new SqliteStore({ path, touchFlushMs: 0, coherenceMs: 60_000 });
    const cli = new SqliteStore({ path, touchFlushMs: 0, hotSessions: 0 });
    try {
      await service.createSession(session('s-hot-1', 7));
      assert.ok(await service.findSessionByTokenHash(Buffer.alloc(32, 7)), 'hot before');
      assert.equal(await cli.deleteSession('s-hot-1'), true);
      assert.ok(await service.findSessionByTokenHash(Buffer.alloc(32, 7)), 'still hot until the check (the documented bound)');
      service.checkCoherence();
      assert.equal(await service.findSessionByTokenHash(Buffer.alloc(32, 7)), null, 'gone after the check');
    } finally {
      service.close();
      cli.close();
    }
  });

  it('with coherenceMs 0, sees another process\'s delete at the very next lookup', async () => {
    const service = new SqliteStore({ path, touchFlushMs: 0, coherenceMs: 0 });
    const cli = new SqliteStore({ path, touchFlushMs: 0, hotSessions: 0 });
    try {
      await service.createSession(session('s-hot-2', 8));
      assert.ok(await service.findSessionByTokenHash(Buffer.alloc(32, 8)));
      await cli.deleteSessionsOfUser('u');
      assert.equal(await service.findSessionByTokenHash(Buffer.alloc(32, 8)), null);
    } finally {
      service.close();
      cli.close();
    }
  });

  it('keeps a session read from the file in memory only from its second lookup on', async () => {
    const service = new SqliteStore({ path, touchFlushMs: 0, coherenceMs: 60_000 });
    const cli = new SqliteStore({ path, touchFlushMs: 0, hotSessions: 0 });
    try {
      await cli.createSession(session('s-once', 60));
      await cli.createSession(session('s-twice', 61));
      assert.ok(await service.findSessionByTokenHash(Buffer.alloc(32, 60)));
      assert.ok(await service.findSessionByTokenHash(Buffer.alloc(32, 61)));
      assert.ok(await service.findSessionByTokenHash(Buffer.alloc(32, 61)));
      await cli.deleteSession('s-once');
      await cli.deleteSession('s-twice');
      // No coherence check has run: what is still found is what was kept in memory.
      assert.equal(await service.findSessionByTokenHash(Buffer.alloc(32, 60)), null, 'one lookup: read from the file again');
      assert.equal((await service.findSessionByTokenHash(Buffer.alloc(32, 61)))?.id, 's-twice', 'two lookups: kept in memory');
      service.checkCoherence();
      assert.equal(await service.findSessionByTokenHash(Buffer.alloc(32, 61)), null);
    } finally {
      service.close();
      cli.close();
    }
  });

  it('does not let one-off lookups of other sessions push a hot session out', async () => {
    const service = new SqliteStore({ path, touchFlushMs: 0, coherenceMs: 60_000, hotSessions: 2 });
    const cli = new SqliteStore({ path, touchFlushMs: 0, hotSessions: 0 });
    try {
      await service.createSession(session('s-kept', 70));
      for (let i = 0; i < 8; i++) await cli.createSession(session(`s-oneoff-${i}`, 71 + i));
      for (let i = 0; i < 8; i++) assert.equal((await service.findSessionByTokenHash(Buffer.alloc(32, 71 + i)))?.id, `s-oneoff-${i}`);
      await cli.deleteSession('s-kept');
      assert.equal((await service.findSessionByTokenHash(Buffer.alloc(32, 70)))?.id, 's-kept', 'still in memory');
    } finally {
      service.close();
      cli.close();
    }
  });

  it('keeps at most hotSessions in memory and still finds evicted ones in the file', async () => {
    const store = new SqliteStore({ path, touchFlushMs: 0, hotSessions: 2 });
    try {
      for (let i = 0; i < 5; i++) await store.createSession(session(`s-evict-${i}`, 20 + i));
      for (let i = 0; i < 5; i++) assert.equal((await store.findSessionByTokenHash(Buffer.alloc(32, 20 + i)))?.id, `s-evict-${i}`);
      await store.touchSession('s-evict-4', Date.now() + 5000);
      assert.equal((await store.getSession('s-evict-4'))?.lastAccessedAt, (await store.findSessionByTokenHash(Buffer.alloc(32, 24)))?.lastAccessedAt);
    } finally {
      store.close();
    }
  });
});

describe('SqliteStore group commit (the writes of concurrent logins share one COMMIT)', () => {
  const dir = tempDir('portcullis-group-');
  const path = join(dir.path, 'store.db');
  const T = Date.UTC(2026, 0, 1);
  let store: SqliteStore;
  let reader: Database.Database;
  before(() => {
    store = new SqliteStore({ path, touchFlushMs: 0 });
    reader = new Database(path, { readonly: true });
  });
  after(() => {
    reader.close();
    store.close();
    dir.remove();
  });

  function session(id: string, hashByte: number, username = 'grouped') {
    return {
      id,
      tokenHash: Buffer.alloc(32, hashByte),
      csrf: 'c',
      username,
      roles: [],
      organizations: [],
      enterprise: 'E',
      mustChangePassword: false,
      createdAt: T,
      lastAccessedAt: T,
      idleTimeoutMs: 0,
      expiresAt: T + 3_600_000,
      clientAddress: '127.0.0.1',
      authSource: 'local',
      authServer: '127.0.0.1',
      dialect: 'hcx',
    };
  }
  const audit = (n: number) => ({ at: T + n, kind: 'login.success', username: 'grouped', clientAddress: '127.0.0.1', dialect: 'hcx', requestId: `r${n}`, detail: { n } });

  it('commits session inserts and audit rows asked for in the same turn once, and each is in the file when its promise settles', async () => {
    const before = store.groupCommits;
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < 4; i++) {
      writes.push(store.createSessionWithinLimit(session(`g${i}`, 10 + i), 10, T));
      writes.push(store.appendAudit(audit(i)));
    }
    writes.push(store.createSession(session('g-unlimited', 20)));
    const results = await Promise.all(writes);
    assert.equal(store.groupCommits - before, 1, 'one COMMIT for nine writes');
    assert.deepEqual(results.filter((r) => typeof r === 'boolean'), [true, true, true, true]);
    // Another connection sees all of it: it was committed before the promises settled.
    assert.equal(reader.prepare("SELECT count(*) FROM sessions WHERE username = 'grouped'").pluck().get(), 5);
    assert.equal(reader.prepare("SELECT count(*) FROM audit WHERE username = 'grouped'").pluck().get(), 4);
  });

  it('checks the session limit write by write inside the shared transaction (the second of two racing logins is refused)', async () => {
    const [a, b] = await Promise.all([
      store.createSessionWithinLimit(session('race-1', 40, 'racer'), 1, T),
      store.createSessionWithinLimit(session('race-2', 41, 'racer'), 1, T),
    ]);
    assert.deepEqual([a, b], [true, false]);
    assert.equal(reader.prepare("SELECT count(*) FROM sessions WHERE username = 'racer'").pluck().get(), 1);
  });

  it('fails only the write that breaks a constraint; the others in its group are committed', async () => {
    const dup = session('g0', 50); // the id of a session that exists
    const [ok1, bad, ok2] = await Promise.allSettled([store.appendAudit(audit(100)), store.createSession(dup), store.createSession(session('g-after', 51))]);
    assert.equal(ok1.status, 'fulfilled');
    assert.equal(bad.status, 'rejected');
    assert.equal(ok2.status, 'fulfilled');
    assert.equal(reader.prepare("SELECT count(*) FROM audit WHERE request_id = 'r100'").pluck().get(), 1);
    assert.equal(reader.prepare("SELECT count(*) FROM sessions WHERE id = 'g-after'").pluck().get(), 1);
    assert.equal(await store.findSessionByTokenHash(Buffer.alloc(32, 50)), null, 'a failed insert is not served from memory either');
  });

  it('commits writes still waiting for their turn when the store is closed', async () => {
    const p2 = join(dir.path, 'closing.db');
    const s2 = new SqliteStore({ path: p2, touchFlushMs: 0 });
    const pending = s2.appendAudit(audit(7));
    s2.close();
    await pending;
    const r = new Database(p2, { readonly: true });
    try {
      assert.equal(r.prepare('SELECT count(*) FROM audit').pluck().get(), 1);
    } finally {
      r.close();
    }
  });
});
