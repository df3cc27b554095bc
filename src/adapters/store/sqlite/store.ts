import Database from 'better-sqlite3';
import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  DuplicateAccountError,
  type Account,
  type AccountPatch,
  type AccountStore,
  type AuditEvent,
  type AuditFilter,
  type AuditRecord,
  type AuditStore,
  type FailureRule,
  type FailureEntry,
  type FailureScope,
  type LoginSourceEntry,
  type FailureState,
  type LoginGuardStore,
  type NewAccount,
  type PasswordHistoryStore,
  type SecondFactor,
  type SecondFactorStore,
  type SessionLimitStore,
  type SettingsStore,
  type SessionRecord,
  type SessionStore,
} from '../../../ports/store.js';
import { migrations } from './migrations.js';
import { failureResult, nextFailure, readFailure, sessionAlive, type FailureRow } from '../rules.js';

export interface SqliteStoreOptions {
  /** Path of the database file, or ':memory:'. */
  path: string;
  /** How long touches may wait in memory before they are written (to session_touches, durably); default 1000 ms. */
  touchFlushMs?: number;
  /**
   * How often session_touches is folded into the sessions' rows, in the background,
   * in chunks: default every 60 s, or sooner once 200 000 touches are waiting. Reads
   * and the sweep see the touches either way; folding less often rewrites fewer
   * random pages of a large sessions table (4.4 µs per touch at 200 000, 8.5 at 50 000, 1 M sessions).
   */
  touchFoldMs?: number;
  touchFoldRows?: number;
  /**
   * SQLite's page cache in MiB; default 32. It holds the b-trees' inner pages and the
   * pages checked since the last write of touches (which rewrites them); the rest of
   * the file is read from the operating system's page cache, which does not count in
   * the process's resident memory. With 1 M sessions (a 270 MB file), 64 MiB measured
   * no faster than 32 and cost ~35 MiB more resident memory; 16 made the touch writes
   * re-read their pages (~5 µs more per distinct session touched).
   */
  cacheMiB?: number;
  /**
   * Sessions kept in memory for checks; default 50 000 (about 2 KiB each). 0 = none.
   * A session read from the file is kept only when it is looked up a second time
   * (see `seen`), so a stream of one-off lookups over many sessions does not fill it.
   */
  hotSessions?: number;
  /**
   * How often to look whether another process (the CLI, a second service) wrote the
   * file, which empties the in-memory sessions; default 100 ms. 0 = before every lookup.
   */
  coherenceMs?: number;
}

type Row = Record<string, unknown>;

const SESSION_COLUMNS = [
  'id', 'token_hash', 'csrf', 'username', 'roles', 'organizations', 'enterprise', 'must_change_password',
  'created_at', 'last_accessed_at', 'idle_timeout_ms', 'expires_at', 'client_address', 'auth_source', 'auth_server', 'dialect',
] as const;

/** Touches folded per transaction (one per turn of the event loop). */
const FOLD_CHUNK = 5000;

/**
 * A session's columns as read: "last accessed" is the later of the row's and of a
 * touch not yet folded into it (session_touches). `FROM SESSIONS_WITH_TOUCHES`.
 */
const SESSION_SELECT = SESSION_COLUMNS.map((c) => (c === 'last_accessed_at' ? 'max(s.last_accessed_at, coalesce(t.at, 0)) AS last_accessed_at' : `s.${c}`)).join(', ');
const SESSIONS_WITH_TOUCHES = 'sessions s LEFT JOIN session_touches t ON t.id = s.id';

/** A session row read in SESSION_COLUMNS order as the object toSession takes. */
function rowOf(v: unknown[]): Row {
  return {
    id: v[0], token_hash: v[1], csrf: v[2], username: v[3], roles: v[4], organizations: v[5], enterprise: v[6], must_change_password: v[7],
    created_at: v[8], last_accessed_at: v[9], idle_timeout_ms: v[10], expires_at: v[11], client_address: v[12], auth_source: v[13], auth_server: v[14], dialect: v[15],
  };
}

const ACCOUNT_COLUMNS = ['roles', 'organizations', 'enterprise', 'disabled', 'must_change_password', 'password_hash'] as const;
const PATCH_TO_COLUMN: Record<keyof AccountPatch, (typeof ACCOUNT_COLUMNS)[number]> = {
  roles: 'roles',
  organizations: 'organizations',
  enterprise: 'enterprise',
  disabled: 'disabled',
  mustChangePassword: 'must_change_password',
  passwordHash: 'password_hash',
};

/**
 * The embedded store: one SQLite file in WAL mode with synchronous=FULL, so a
 * committed login survives a crash of the process or of the machine.
 *
 * "Last accessed" is written behind: touches are kept in memory and written in
 * one transaction every `touchFlushMs` (default 1 s), so a session check is never
 * a synchronous disk write. After a crash, a session's lastAccessedAt may be up
 * to that interval old, which can only make it expire earlier, never later.
 * They go to a narrow table (session_touches, a few pages for thousands of
 * sessions), not to the sessions' own rows (one random page of a large table
 * each); every read joins it, and it is folded into the rows in the background.
 *
 * Checks read hot sessions from memory (bounded, oldest evicted first). Sessions are
 * immutable but for lastAccessedAt, which this store itself tracks, so the only way
 * a hot entry goes stale is a write by another connection: `PRAGMA data_version`
 * tells, and is looked at every `coherenceMs` (100 ms), so a revocation made with
 * the CLI takes effect here within that time.
 */
export class SqliteStore implements AccountStore, SessionStore, SessionLimitStore, LoginGuardStore, PasswordHistoryStore, SettingsStore, AuditStore, SecondFactorStore {
  readonly db: Database.Database;
  private readonly pendingTouches = new Map<string, number>();
  private readonly flushTimer: NodeJS.Timeout | undefined;
  private readonly coherenceTimer: NodeJS.Timeout | undefined;
  private readonly q;
  /** Hot sessions by token hash (latin1 string of the 32 bytes), and the key of each id. */
  private readonly hot = new Map<string, SessionRecord>();
  private readonly hotKeyOfId = new Map<string, string>();
  private readonly hotMax: number;
  /**
   * Admission filter for the hot sessions: 32 bits of the token hash of recent misses,
   * in a slot chosen by other bits of it. A miss whose fingerprint is already in its
   * slot is a second lookup and is kept in memory; a first one only marks its slot.
   * Random lookups over many sessions (1 M, where 50 000 hot entries hit 5 %) then
   * cost no insert and eviction each, and do not push out sessions used again and again.
   */
  private readonly seen: Uint32Array;
  private readonly checkEveryLookup: boolean;
  private dataVersion: number;
  /** Writes waiting for the next group commit (see `grouped`). */
  private batch: { op: () => unknown; resolve: (v: unknown) => void; reject: (e: unknown) => void }[] = [];
  private batchScheduled = false;
  private commitCount = 0;
  private secondFactorQuery: Database.Statement | undefined;
  /** Touches written to session_touches since the last fold (an upper bound: a session touched twice counts twice). */
  private unfoldedTouches = 0;
  private folding = false;
  private lastFold = performance.now();
  private readonly foldMs: number;
  private readonly foldRows: number;

  constructor(opts: SqliteStoreOptions) {
    if (opts.path !== ':memory:') {
      mkdirSync(dirname(opts.path), { recursive: true, mode: 0o700 });
      // Create the file with 0600 before SQLite does; its -wal and -shm files copy these permissions.
      closeSync(openSync(opts.path, 'a', 0o600));
      chmodSync(opts.path, 0o600);
    }
    this.db = new Database(opts.path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma(`cache_size = -${Math.round((opts.cacheMiB ?? 32) * 1024)}`);
    migrate(this.db);

    const db = this.db;
    this.q = {
      insertAccount: db.prepare(
        `INSERT INTO accounts (username, roles, organizations, enterprise, disabled, must_change_password, password_hash, created_at, updated_at)
         VALUES (@username, @roles, @organizations, @enterprise, @disabled, @must_change_password, @password_hash, @now, @now)`,
      ),
      getAccount: db.prepare('SELECT * FROM accounts WHERE username = ?'),
      listAccounts: db.prepare('SELECT * FROM accounts ORDER BY username'),
      listAccountNames: db.prepare('SELECT username FROM accounts ORDER BY username').pluck(),
      deleteAccount: db.prepare('DELETE FROM accounts WHERE username = ?'),
      countAccounts: db.prepare('SELECT count(*) AS n FROM accounts').pluck(),
      insertSession: db.prepare(
        `INSERT INTO sessions (id, token_hash, csrf, username, roles, organizations, enterprise, must_change_password,
           created_at, last_accessed_at, idle_timeout_ms, expires_at, client_address, auth_source, auth_server, dialect)
         VALUES (@id, @token_hash, @csrf, @username, @roles, @organizations, @enterprise, @must_change_password,
           @created_at, @last_accessed_at, @idle_timeout_ms, @expires_at, @client_address, @auth_source, @auth_server, @dialect)`,
      ),
      // Values in an array (raw), not an object with 16 named keys: ~1.3 µs less per lookup from the file.
      sessionByHash: db.prepare(`SELECT ${SESSION_SELECT} FROM ${SESSIONS_WITH_TOUCHES} WHERE s.token_hash = ?`).raw(true),
      dataVersion: db.prepare('PRAGMA data_version').pluck(),
      syncNormal: db.prepare('PRAGMA synchronous = NORMAL'),
      syncFull: db.prepare('PRAGMA synchronous = FULL'),
      sessionById: db.prepare(`SELECT ${SESSION_SELECT} FROM ${SESSIONS_WITH_TOUCHES} WHERE s.id = ?`),
      listSessions: db.prepare(`SELECT ${SESSION_SELECT} FROM ${SESSIONS_WITH_TOUCHES} ORDER BY s.created_at, s.id`),
      countSessions: db.prepare('SELECT count(*) FROM sessions').pluck(),
      listUserSessions: db.prepare(`SELECT ${SESSION_SELECT} FROM ${SESSIONS_WITH_TOUCHES} WHERE s.username = ? ORDER BY s.created_at, s.id`),
      touch: db.prepare('UPDATE sessions SET last_accessed_at = max(last_accessed_at, ?) WHERE id = ?'),
      putTouch: db.prepare('INSERT INTO session_touches (id, at) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET at = max(at, excluded.at)'),
      takeTouches: db.prepare('DELETE FROM session_touches WHERE id IN (SELECT id FROM session_touches LIMIT ?) RETURNING id, at').raw(true),
      deleteSession: db.prepare('DELETE FROM sessions WHERE id = ?'),
      deleteUserSessions: db.prepare('DELETE FROM sessions WHERE username = ? RETURNING id'),
      // Before the sweep: the touches of the sessions that look idle by their rows (found through the idle index) are folded in.
      foldIdleTouches: db.prepare(
        `UPDATE sessions SET last_accessed_at = t.at FROM session_touches t
          WHERE t.id = sessions.id AND t.at > sessions.last_accessed_at AND sessions.idle_timeout_ms > 0 AND sessions.last_accessed_at + sessions.idle_timeout_ms <= @now`,
      ),
      expired: db.prepare(
        `DELETE FROM sessions WHERE expires_at <= @now
           OR (idle_timeout_ms > 0 AND last_accessed_at + idle_timeout_ms <= @now) RETURNING *`,
      ),
      dropTouch: db.prepare('DELETE FROM session_touches WHERE id = ?'),
      getFailure: db.prepare('SELECT count, first_at, locked_until FROM login_failures WHERE scope = ? AND subject = ?'),
      putFailure: db.prepare(
        `INSERT INTO login_failures (scope, subject, count, first_at, locked_until) VALUES (@scope, @subject, @count, @first_at, @locked_until)
         ON CONFLICT (scope, subject) DO UPDATE SET count = excluded.count, first_at = excluded.first_at, locked_until = excluded.locked_until`,
      ),
      clearFailure: db.prepare('DELETE FROM login_failures WHERE scope = ? AND subject = ?'),
      pruneFailures: db.prepare('DELETE FROM login_failures WHERE (locked_until = 0 OR locked_until <= @now) AND first_at < @before'),
      rememberSource: db.prepare(
        `INSERT INTO login_sources (username, source, last_success_at) VALUES (?, ?, ?)
         ON CONFLICT (username, source) DO UPDATE SET last_success_at = max(last_success_at, excluded.last_success_at)`,
      ),
      lastSource: db.prepare('SELECT last_success_at FROM login_sources WHERE username = ? AND source = ?').pluck(),
      pruneSources: db.prepare('DELETE FROM login_sources WHERE last_success_at < ?'),
      listFailures: db.prepare(
        `SELECT subject, count, first_at, locked_until FROM login_failures
          WHERE scope = @scope AND (locked_until > @now OR (locked_until = 0 AND first_at + @window > @now))
          ORDER BY count DESC, subject LIMIT @limit`,
      ),
      listSources: db.prepare('SELECT username, source, last_success_at FROM login_sources WHERE last_success_at >= ? ORDER BY last_success_at DESC, username, source LIMIT ?'),
      addHistory: db.prepare('INSERT INTO password_history (username, password_hash, set_at) VALUES (?, ?, ?)'),
      trimHistory: db.prepare(
        `DELETE FROM password_history WHERE username = @username AND seq NOT IN
           (SELECT seq FROM password_history WHERE username = @username ORDER BY seq DESC LIMIT @keep)`,
      ),
      getHistory: db.prepare('SELECT password_hash, set_at FROM password_history WHERE username = ? ORDER BY seq DESC LIMIT ?'),
      deleteHistory: db.prepare('DELETE FROM password_history WHERE username = ?'),
      getSettings: db.prepare('SELECT name, value FROM settings'),
      putSetting: db.prepare(
        'INSERT INTO settings (name, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at',
      ),
      appendAudit: db.prepare(
        `INSERT INTO audit (at, kind, username, client_address, dialect, request_id, detail)
         VALUES (@at, @kind, @username, @client_address, @dialect, @request_id, @detail)`,
      ),
      pruneAudit: db.prepare('DELETE FROM audit WHERE at < ?'),
    };

    this.hotMax = opts.hotSessions ?? 50_000;
    this.seen = new Uint32Array(this.hotMax === 0 ? 0 : seenSlots(this.hotMax));
    this.dataVersion = this.q.dataVersion.get() as number;
    const coherenceMs = opts.coherenceMs ?? 100;
    this.checkEveryLookup = coherenceMs === 0;
    if (coherenceMs > 0 && this.hotMax > 0) {
      this.coherenceTimer = setInterval(() => this.checkCoherence(), coherenceMs);
      this.coherenceTimer.unref();
    }

    const flushMs = opts.touchFlushMs ?? 1000;
    this.foldMs = opts.touchFoldMs ?? 60_000;
    this.foldRows = opts.touchFoldRows ?? 200_000;
    if (flushMs > 0) {
      this.flushTimer = setInterval(() => {
        try {
          this.flushTouches();
        } catch {
          // Kept pending (a busy database): the next tick retries, and reads see them meanwhile. Never a crash from a timer.
        }
      }, flushMs);
      this.flushTimer.unref();
    }
  }

  // ---- accounts ----

  async createAccount(a: NewAccount, now: number): Promise<Account> {
    try {
      this.q.insertAccount.run({
        username: a.username,
        roles: JSON.stringify(a.roles),
        organizations: JSON.stringify(a.organizations),
        enterprise: a.enterprise,
        disabled: a.disabled ? 1 : 0,
        must_change_password: a.mustChangePassword ? 1 : 0,
        password_hash: a.passwordHash,
        now,
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw new DuplicateAccountError(a.username);
      throw e;
    }
    return { ...a, createdAt: now, updatedAt: now };
  }

  async getAccount(username: string): Promise<Account | null> {
    const row = this.q.getAccount.get(username) as Row | undefined;
    return row ? toAccount(row) : null;
  }

  async listAccountNames(): Promise<string[]> {
    return this.q.listAccountNames.all() as string[];
  }

  async listAccounts(): Promise<Account[]> {
    return (this.q.listAccounts.all() as Row[]).map(toAccount);
  }

  async updateAccount(username: string, patch: AccountPatch, now: number): Promise<Account | null> {
    const sets: string[] = [];
    const params: Record<string, unknown> = { username, now };
    for (const [key, value] of Object.entries(patch) as [keyof AccountPatch, unknown][]) {
      if (value === undefined) continue;
      const col = PATCH_TO_COLUMN[key];
      sets.push(`${col} = @${col}`);
      params[col] = Array.isArray(value) ? JSON.stringify(value) : typeof value === 'boolean' ? (value ? 1 : 0) : value;
    }
    const row = this.db
      .prepare(`UPDATE accounts SET ${[...sets, 'updated_at = @now'].join(', ')} WHERE username = @username RETURNING *`)
      .get(params) as Row | undefined;
    return row ? toAccount(row) : null;
  }

  async deleteAccount(username: string): Promise<boolean> {
    return this.q.deleteAccount.run(username).changes > 0;
  }

  async countAccounts(): Promise<number> {
    return this.q.countAccounts.get() as number;
  }

  // ---- sessions ----

  async createSession(s: SessionRecord): Promise<void> {
    await this.grouped(() => this.insertSessionRow(s));
    this.remember(s.tokenHash.toString('latin1'), { ...s });
  }

  private insertSessionRow(s: SessionRecord): void {
    this.q.insertSession.run({
      id: s.id,
      token_hash: s.tokenHash,
      csrf: s.csrf,
      username: s.username,
      roles: JSON.stringify(s.roles),
      organizations: JSON.stringify(s.organizations),
      enterprise: s.enterprise,
      must_change_password: s.mustChangePassword ? 1 : 0,
      created_at: s.createdAt,
      last_accessed_at: s.lastAccessedAt,
      idle_timeout_ms: s.idleTimeoutMs,
      expires_at: s.expiresAt,
      client_address: s.clientAddress,
      auth_source: s.authSource,
      auth_server: s.authServer,
      dialect: s.dialect,
    });
  }

  async findSessionByTokenHash(tokenHash: Buffer): Promise<SessionRecord | null> {
    if (this.checkEveryLookup) this.checkCoherence();
    const key = tokenHash.toString('latin1');
    const hit = this.hot.get(key);
    if (hit) return hit;
    const row = this.q.sessionByHash.get(tokenHash) as unknown[] | undefined;
    if (!row) return null;
    const s = this.toSession(rowOf(row));
    if (this.seenBefore(tokenHash)) this.remember(key, s);
    return s;
  }

  async getSession(id: string): Promise<SessionRecord | null> {
    const row = this.q.sessionById.get(id) as Row | undefined;
    return row ? this.toSession(row) : null;
  }

  async countSessions(): Promise<number> {
    return this.q.countSessions.get() as number; // one scan of the smallest index: 16–40 ms at 1 M sessions here (BENCHMARKS B4)
  }

  async listSessions(filter?: { username?: string }): Promise<SessionRecord[]> {
    const rows = (filter?.username !== undefined ? this.q.listUserSessions.all(filter.username) : this.q.listSessions.all()) as Row[];
    return rows.map((r) => this.toSession(r));
  }

  cachedSession(key: string): SessionRecord | undefined {
    if (this.checkEveryLookup) this.checkCoherence();
    return this.hot.get(key);
  }

  touchSession(id: string, at: number): void {
    const prev = this.pendingTouches.get(id);
    if (prev === undefined || at > prev) this.pendingTouches.set(id, at);
    const key = this.hotKeyOfId.get(id);
    const hot = key === undefined ? undefined : this.hot.get(key);
    if (hot && at > hot.lastAccessedAt) hot.lastAccessedAt = at;
  }

  async deleteSession(id: string): Promise<boolean> {
    this.forget(id);
    return this.q.deleteSession.run(id).changes > 0;
  }

  async deleteSessionsOfUser(username: string): Promise<number> {
    const ids = this.q.deleteUserSessions.all(username) as { id: string }[];
    for (const { id } of ids) this.forget(id);
    return ids.length;
  }

  async deleteExpiredSessions(now: number): Promise<SessionRecord[]> {
    // Pending touches may keep a session alive: write them first.
    this.flushTouches();
    const gone = this.db.transaction(() => {
      this.q.foldIdleTouches.run({ now });
      const rows = (this.q.expired.all({ now }) as Row[]).map((r) => this.toSession(r));
      for (const r of rows) this.q.dropTouch.run(r.id);
      return rows;
    })();
    for (const s of gone) this.forget(s.id);
    return gone;
  }

  async createSessionWithinLimit(s: SessionRecord, limit: number, now: number): Promise<boolean> {
    if (limit <= 0) {
      await this.createSession(s);
      return true;
    }
    // One IMMEDIATE transaction (the group commit's): the count and the insert see and leave one state, also against other processes.
    const created = await this.grouped(() => {
      const live = (this.q.listUserSessions.all(s.username) as Row[])
        .map((r) => this.toSession(r))
        .filter((x) => sessionAlive(x, now));
      if (live.length >= limit) return false;
      this.insertSessionRow(s);
      return true;
    });
    if (created) this.remember(s.tokenHash.toString('latin1'), { ...s });
    return created;
  }

  // ---- brute-force bookkeeping ----

  async recordLoginFailure(scope: FailureScope, subject: string, now: number, rule: FailureRule): Promise<FailureState & { lockedNow: boolean }> {
    // One IMMEDIATE transaction: read, count and lock are one step for every connection.
    return this.withoutFsync(() =>
      this.db
        .transaction(() => {
          const n = nextFailure(this.failureRow(scope, subject), now, rule);
          this.q.putFailure.run({ scope, subject, count: n.count, first_at: n.firstAt, locked_until: n.lockedUntil });
          return failureResult(n, now);
        })
        .immediate(),
    );
  }

  async getLoginFailures(scope: FailureScope, subject: string, now: number, windowMs: number): Promise<FailureState> {
    return readFailure(this.failureRow(scope, subject), now, windowMs);
  }

  private failureRow(scope: FailureScope, subject: string): FailureRow | undefined {
    const row = this.q.getFailure.get(scope, subject) as { count: number; first_at: number; locked_until: number } | undefined;
    return row && { count: row.count, firstAt: row.first_at, lockedUntil: row.locked_until };
  }

  async clearLoginFailures(scope: FailureScope, subject: string): Promise<boolean> {
    return this.withoutFsync(() => this.q.clearFailure.run(scope, subject).changes > 0);
  }

  async rememberLoginSource(username: string, source: string, at: number): Promise<void> {
    this.withoutFsync(() => this.q.rememberSource.run(username, source, at));
  }

  async lastLoginFromSource(username: string, source: string): Promise<number | null> {
    return (this.q.lastSource.get(username, source) as number | undefined) ?? null;
  }

  async listLoginFailures(scope: FailureScope, now: number, windowMs: number, limit: number): Promise<FailureEntry[]> {
    const rows = this.q.listFailures.all({ scope, now, window: windowMs, limit }) as { subject: string; count: number; first_at: number; locked_until: number }[];
    return rows.map((r) => ({ subject: r.subject, count: r.count, firstAt: r.first_at, locked: r.locked_until > now, lockedUntil: r.locked_until }));
  }

  async listLoginSources(since: number, limit: number): Promise<LoginSourceEntry[]> {
    const rows = this.q.listSources.all(since, limit) as { username: string; source: string; last_success_at: number }[];
    return rows.map((r) => ({ username: r.username, source: r.source, at: r.last_success_at }));
  }

  async pruneLoginGuard(now: number, failuresBefore: number, sourcesBefore: number): Promise<number> {
    return this.q.pruneFailures.run({ now, before: failuresBefore }).changes + this.q.pruneSources.run(sourcesBefore).changes;
  }

  // ---- password history ----

  async addPasswordHistory(username: string, passwordHash: string, at: number, keep: number): Promise<void> {
    this.db.transaction(() => {
      this.q.addHistory.run(username, passwordHash, at);
      this.q.trimHistory.run({ username, keep: Math.max(1, keep) });
    })();
  }

  async getPasswordHistory(username: string, limit: number): Promise<{ passwordHash: string; at: number }[]> {
    if (limit <= 0) return [];
    return (this.q.getHistory.all(username, limit) as { password_hash: string; set_at: number }[]).map((r) => ({ passwordHash: r.password_hash, at: r.set_at }));
  }

  async deletePasswordHistory(username: string): Promise<void> {
    this.q.deleteHistory.run(username);
  }

  // ---- second factors ----

  async getSecondFactor(username: string): Promise<SecondFactor | null> {
    // Asked at every login (twice): prepared once, not each time (~0.1 ms a login, measured in a login profile).
    this.secondFactorQuery ??= this.db.prepare('SELECT f.*, (SELECT count(*) FROM recovery_codes r WHERE r.username = f.username) AS left FROM second_factors f WHERE f.username = ?');
    const r = this.secondFactorQuery.get(username) as { username: string; secret: string; created_at: number; confirmed_at: number | null; last_step: number; left: number } | undefined;
    if (!r) return null;
    return { username: r.username, secret: r.secret, createdAt: r.created_at, confirmedAt: r.confirmed_at, lastStep: r.last_step, recoveryLeft: r.left };
  }

  async putSecondFactor(username: string, secret: string, now: number): Promise<void> {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM second_factors WHERE username = ?').run(username);
      this.db.prepare('INSERT INTO second_factors (username, secret, created_at, confirmed_at, last_step) VALUES (?, ?, ?, NULL, -1)').run(username, secret, now);
    })();
  }

  async confirmSecondFactor(username: string, step: number, recoveryHashes: string[], now: number): Promise<boolean> {
    return this.db.transaction(() => {
      const done = this.db.prepare('UPDATE second_factors SET confirmed_at = ?, last_step = ? WHERE username = ? AND confirmed_at IS NULL AND last_step < ?').run(now, step, username, step).changes === 1;
      if (!done) return false;
      const add = this.db.prepare('INSERT OR IGNORE INTO recovery_codes (username, code_hash) VALUES (?, ?)');
      for (const h of recoveryHashes) add.run(username, h);
      return true;
    })();
  }

  async claimTotpStep(username: string, step: number): Promise<boolean> {
    return this.db.prepare('UPDATE second_factors SET last_step = ? WHERE username = ? AND confirmed_at IS NOT NULL AND last_step < ?').run(step, username, step).changes === 1;
  }

  async consumeRecoveryCode(username: string, hash: string): Promise<boolean> {
    return (
      this.db
        .prepare('DELETE FROM recovery_codes WHERE username = ? AND code_hash = ? AND EXISTS (SELECT 1 FROM second_factors f WHERE f.username = ? AND f.confirmed_at IS NOT NULL)')
        .run(username, hash, username).changes === 1
    );
  }

  async deleteSecondFactor(username: string): Promise<boolean> {
    return this.db.prepare('DELETE FROM second_factors WHERE username = ?').run(username).changes === 1;
  }

  async listSecondFactorUsers(): Promise<string[]> {
    return (this.db.prepare('SELECT username FROM second_factors WHERE confirmed_at IS NOT NULL ORDER BY username').all() as { username: string }[]).map((r) => r.username);
  }

  // ---- settings ----

  async getSettings(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const r of this.q.getSettings.all() as { name: string; value: number }[]) out[r.name] = r.value;
    return out;
  }

  async putSettings(values: Record<string, number>, now: number): Promise<void> {
    this.db.transaction(() => {
      for (const [name, value] of Object.entries(values)) this.q.putSetting.run(name, Math.trunc(value), now);
    })();
  }

  // ---- audit ----

  async appendAudit(e: AuditEvent): Promise<void> {
    await this.grouped(() => this.q.appendAudit.run({
      at: e.at,
      kind: e.kind,
      username: e.username,
      client_address: e.clientAddress,
      dialect: e.dialect,
      request_id: e.requestId,
      detail: JSON.stringify(e.detail),
    }));
  }

  async queryAudit(f: AuditFilter = {}): Promise<AuditRecord[]> {
    const where: string[] = [];
    const params: Record<string, unknown> = { limit: f.limit ?? 1000 };
    if (f.username !== undefined) {
      where.push('username = @username');
      params.username = f.username;
    }
    if (f.kind !== undefined) {
      if (f.kind.endsWith('.')) {
        where.push('substr(kind, 1, length(@kind)) = @kind');
      } else where.push('kind = @kind');
      params.kind = f.kind;
    }
    if (f.since !== undefined) {
      where.push('at >= @since');
      params.since = f.since;
    }
    const sql = `SELECT * FROM (SELECT * FROM audit ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT @limit) ORDER BY seq`;
    return (this.db.prepare(sql).all(params) as Row[]).map((r) => ({
      seq: r.seq as number,
      at: r.at as number,
      kind: r.kind as string,
      username: r.username as string,
      clientAddress: r.client_address as string,
      dialect: r.dialect as string,
      requestId: r.request_id as string,
      detail: JSON.parse(r.detail as string) as AuditRecord['detail'],
    }));
  }

  async pruneAudit(before: number): Promise<number> {
    return this.q.pruneAudit.run(before).changes;
  }

  /** Empties the hot sessions when another connection has written the database since the last look. */
  checkCoherence(): void {
    const v = this.q.dataVersion.get() as number;
    if (v !== this.dataVersion) {
      this.dataVersion = v;
      this.hot.clear();
      this.hotKeyOfId.clear();
    }
  }

  /** Whether this token hash was looked up recently (its fingerprint is in its slot); marks it if not. */
  private seenBefore(tokenHash: Buffer): boolean {
    const n = this.seen.length;
    if (n === 0 || tokenHash.length < 8) return false;
    const slot = tokenHash.readUInt32LE(0) & (n - 1);
    const fp = tokenHash.readUInt32LE(4);
    if (this.seen[slot] === fp) return true;
    this.seen[slot] = fp;
    return false;
  }

  private remember(key: string, s: SessionRecord): void {
    if (this.hotMax === 0) return;
    if (this.hot.size >= this.hotMax) {
      const oldest = this.hot.keys().next().value as string;
      const victim = this.hot.get(oldest);
      this.hot.delete(oldest);
      if (victim) this.hotKeyOfId.delete(victim.id);
    }
    this.hot.set(key, s);
    this.hotKeyOfId.set(s.id, key);
  }

  private forget(id: string): void {
    this.pendingTouches.delete(id);
    const key = this.hotKeyOfId.get(id);
    if (key !== undefined) {
      this.hot.delete(key);
      this.hotKeyOfId.delete(id);
    }
  }

  /**
   * Runs a write of the brute-force bookkeeping (failure counters, login sources) with
   * synchronous=NORMAL: in WAL mode its COMMIT appends to the log without waiting for
   * the disk. It survives a crash of the process like every commit; a power cut may lose
   * the last of them (until the next session commit or checkpoint syncs the log), which
   * can only forget a few failures. Under a flood these are the most frequent writes, and
   * better-sqlite3 runs them on the event loop: B7's profile had it waiting in fsync
   * about half the time.
   */
  private withoutFsync<T>(write: () => T): T {
    this.q.syncNormal.run(); // prepared once: db.pragma() parses its SQL at every call (~5 µs the pair, several times a login)
    try {
      return write();
    } finally {
      this.q.syncFull.run();
    }
  }

  /** Group commits made so far (a transaction holding one or more new sessions and audit rows). */
  get groupCommits(): number {
    return this.commitCount;
  }

  /**
   * Group commit for the writes every login makes (the session insert with its limit
   * check, the audit row): writes that arrive in the same turn of the event loop
   * share one IMMEDIATE transaction, so one fsync instead of one each, and each
   * caller's promise settles only after that COMMIT (synchronous=FULL): a write
   * reported done survives a crash as before. Each write runs in its own savepoint,
   * so one that fails (a constraint) fails alone; a failed COMMIT fails them all.
   * Its effect happens between the call and the settling of its promise.
   */
  private grouped<T>(op: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.batch.push({ op, resolve: resolve as (v: unknown) => void, reject });
      if (!this.batchScheduled) {
        this.batchScheduled = true;
        setImmediate(() => this.commitBatch());
      }
    });
  }

  private commitBatch(): void {
    this.batchScheduled = false;
    const batch = this.batch;
    this.batch = [];
    if (batch.length === 0) return;
    if (!this.db.open) {
      for (const w of batch) w.reject(new Error('the store is closed'));
      return;
    }
    const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
    try {
      this.db
        .transaction(() => {
          for (const w of batch) {
            try {
              // A nested transaction function is a savepoint: a failing write is undone alone.
              outcomes.push({ ok: true, value: this.db.transaction(w.op)() });
            } catch (error) {
              outcomes.push({ ok: false, error });
            }
          }
        })
        .immediate();
      this.commitCount++;
    } catch (e) {
      for (const w of batch) w.reject(e);
      return;
    }
    batch.forEach((w, i) => {
      const o = outcomes[i]!;
      if (o.ok) w.resolve(o.value);
      else w.reject(o.error);
    });
  }

  /** Writes pending touches in one transaction. Called by the timer, before sweeps and at close. */
  flushTouches(): void {
    if (this.pendingTouches.size === 0) return;
    const batch = [...this.pendingTouches];
    this.pendingTouches.clear();
    const write = this.db.transaction((items: [string, number][]) => {
      for (const [id, at] of items) this.q.putTouch.run(id, at);
    });
    try {
      write(batch);
      this.unfoldedTouches += batch.length;
    } catch (e) {
      // Keep them for the next attempt (a busy database, for instance); newer touches win.
      for (const [id, at] of batch) {
        const cur = this.pendingTouches.get(id);
        if (cur === undefined || at > cur) this.pendingTouches.set(id, at);
      }
      throw e;
    }
    if (!this.folding && (this.unfoldedTouches >= this.foldRows || performance.now() - this.lastFold >= this.foldMs)) this.foldInBackground();
  }

  /**
   * Moves up to `max` touches from session_touches into their sessions' rows, in one
   * short transaction; returns how many. Idempotent (a time never moves backwards), so a
   * crash between two of them loses nothing: the rest is still in session_touches.
   */
  foldTouches(max = FOLD_CHUNK): number {
    return this.db
      .transaction(() => {
        const rows = this.q.takeTouches.all(max) as [string, number][];
        for (const [id, at] of rows) this.q.touch.run(at, id);
        return rows.length;
      })
      .immediate();
  }

  /** Folds every touch in chunks, one per turn of the event loop (each ≲ 20 ms at 1 M sessions here): checks go on between them. */
  private foldInBackground(): void {
    this.folding = true;
    const step = () => {
      let n = 0;
      try {
        if (this.db.open) n = this.foldTouches();
      } catch {
        n = 0; // a busy database: the next flush tries again
      }
      if (n === FOLD_CHUNK) return void setImmediate(step);
      this.folding = false;
      this.unfoldedTouches = 0;
      this.lastFold = performance.now();
    };
    setImmediate(step);
  }

  close(): void {
    if (this.flushTimer) clearInterval(this.flushTimer);
    if (this.coherenceTimer) clearInterval(this.coherenceTimer);
    this.hot.clear();
    this.hotKeyOfId.clear();
    if (this.db.open) {
      // Writes already asked for are committed, not dropped.
      this.commitBatch();
      this.flushTouches();
      // After a stop the file holds every touch in the sessions' own rows (for sqlite3, backups, other tools):
      // bounded by what waits (at most a fold interval's touches; 50 000 fold in well under a second).
      try {
        while (this.foldTouches() === FOLD_CHUNK);
      } catch {
        // A busy database: the touches stay in session_touches, where every read finds them.
      }
      this.db.close();
    }
  }

  private toSession(r: Row): SessionRecord {
    const id = r.id as string;
    const stored = r.last_accessed_at as number;
    const pending = this.pendingTouches.get(id);
    return {
      id,
      tokenHash: r.token_hash as Buffer,
      csrf: r.csrf as string,
      username: r.username as string,
      roles: parseList(r.roles as string),
      organizations: parseList(r.organizations as string),
      enterprise: r.enterprise as string,
      mustChangePassword: r.must_change_password === 1,
      createdAt: r.created_at as number,
      lastAccessedAt: pending !== undefined && pending > stored ? pending : stored,
      idleTimeoutMs: r.idle_timeout_ms as number,
      expiresAt: r.expires_at as number,
      clientAddress: r.client_address as string,
      authSource: r.auth_source as string,
      authServer: r.auth_server as string,
      dialect: r.dialect as string,
    };
  }
}

/** Slots of the admission filter: a power of two, at least 4 096 and at least hotMax (at most 1 Mi slots, 4 MiB). */
function seenSlots(hotMax: number): number {
  let n = 4096;
  while (n < hotMax && n < 1 << 20) n <<= 1;
  return n;
}

/**
 * Sessions share a few role and organization lists: each distinct JSON text is parsed
 * once (up to 256 of them are kept) and every session gets its own copy of the array.
 */
const parsedLists = new Map<string, readonly string[]>();
function parseList(json: string): string[] {
  let list = parsedLists.get(json);
  if (list === undefined) {
    list = JSON.parse(json) as string[];
    if (parsedLists.size >= 256) parsedLists.clear();
    parsedLists.set(json, list);
  }
  return list.slice();
}

function toAccount(r: Row): Account {
  return {
    username: r.username as string,
    roles: JSON.parse(r.roles as string) as string[],
    organizations: JSON.parse(r.organizations as string) as string[],
    enterprise: r.enterprise as string,
    disabled: r.disabled === 1,
    mustChangePassword: r.must_change_password === 1,
    passwordHash: (r.password_hash as string | null) ?? null,
    createdAt: r.created_at as number,
    updatedAt: r.updated_at as number,
  };
}

function isUniqueViolation(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** The database was written by a newer Portcullis; starting would risk it. */
export class SchemaVersionError extends Error {
  override name = 'SchemaVersionError';
}

function migrate(db: Database.Database): void {
  // IMMEDIATE: two processes opening a new file at once (the service and the CLI) migrate it once.
  db.transaction(() => {
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current > migrations.length) {
      throw new SchemaVersionError(`database schema version ${current} is newer than this Portcullis understands (${migrations.length}); refusing to start`);
    }
    for (let v = current; v < migrations.length; v++) {
      const m = migrations[v]!;
      if (typeof m === 'string') db.exec(m);
      else m(db);
    }
    if (current < migrations.length) db.pragma(`user_version = ${migrations.length}`);
  }).immediate();
}
