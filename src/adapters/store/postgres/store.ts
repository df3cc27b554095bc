import { readFileSync } from 'node:fs';
import pg from 'pg';
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
  type SessionRecord,
  type SessionStore,
  type SettingsStore,
} from '../../../ports/store.js';
import { HotSessionCache } from '../hot-cache.js';
import { PendingTouches } from '../pending-touches.js';
import { failureResult, nextFailure, readFailure, sessionAlive, type FailureRow } from '../rules.js';
import { guarded } from '../unavailable.js';
import { pgMigrations } from './migrations.js';

export interface PostgresStoreOptions {
  /** postgres://user:password@host:port/database (libpq-style URL; `?sslmode=` is honoured by pg). */
  url: string;
  /** Connections in the pool; default 10. */
  poolMax?: number;
  /** TLS to the server: a CA file to verify it with; `false` = no TLS unless the URL asks. */
  tls?: { caFile?: string | undefined; rejectUnauthorized?: boolean | undefined } | false;
  /** How long to wait for a connection; default 2000 ms. */
  connectTimeoutMs?: number;
  /** Longest a statement may take, on the server and as seen from here; default 5000 ms. */
  statementTimeoutMs?: number;
  /** How long touches may wait in memory before they are written; default 1000 ms. 0 = only on flush. */
  touchFlushMs?: number;
  /** Real time a session read from the database may be served from memory; default 500 ms (0 = never cached). */
  cacheMs?: number;
  /** Sessions kept in memory; default 50 000. */
  hotSessions?: number;
  /** Bring the schema up to date when opening (default); false = refuse to open a schema that is behind. */
  migrate?: boolean;
  /** Told about errors of idle pooled connections (a restarted server), which would otherwise go unseen. */
  onIdleError?: (e: Error) => void;
}

type Row = Record<string, unknown>;

const PATCH_TO_COLUMN: Record<keyof AccountPatch, string> = {
  roles: 'roles',
  organizations: 'organizations',
  enterprise: 'enterprise',
  disabled: 'disabled',
  mustChangePassword: 'must_change_password',
  passwordHash: 'password_hash',
};

/** BIGINT (oid 20) comes back as a JS number: every value we store is a safe integer (ms since the epoch, counts). */
const types = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === 20 ? (v: string) => Number(v) : (pg.types.getTypeParser as (o: number, f?: string) => unknown)(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};

import { PgSchemaVersionError } from './errors.js';
export { PgSchemaVersionError };

const MIGRATION_LOCK = 0x706f7274; // 'port'

/**
 * The shared durable store: accounts, settings, audit, password history, and (unless
 * Redis holds them) sessions and failure counters, in PostgreSQL. Pooled; every
 * statement bounded by a timeout; a server that does not answer becomes CoreError
 * unavailable (503 in every dialect), and the pool reconnects by itself.
 *
 * Atomic steps the contract requires (count failures, count-and-create sessions)
 * run in one transaction serialized per subject by a transaction-scoped advisory
 * lock, so they are exact across any number of nodes.
 *
 * Session checks: "last accessed" is written behind (one UPDATE per flush for all
 * pending touches), and a session read from the database is served from memory for
 * at most `cacheMs` (500 ms) of real time, so another node's revocation is enforced
 * here within that bound.
 */
export class PostgresStore implements AccountStore, SessionStore, SessionLimitStore, LoginGuardStore, PasswordHistoryStore, SettingsStore, AuditStore, SecondFactorStore {
  readonly pool: pg.Pool;
  private readonly pendingTouches: PendingTouches;
  private readonly cache: HotSessionCache;
  private closed = false;
  /** Schema version before and after open() (equal when nothing was migrated). */
  schemaChange: [number, number] = [0, 0];

  private constructor(opts: PostgresStoreOptions) {
    const timeout = opts.statementTimeoutMs ?? 5000;
    let ssl: pg.PoolConfig['ssl'];
    if (opts.tls) {
      ssl = { rejectUnauthorized: opts.tls.rejectUnauthorized ?? true, ...(opts.tls.caFile ? { ca: readFileSync(opts.tls.caFile, 'utf8') } : {}) };
    }
    this.pool = new pg.Pool({
      connectionString: opts.url,
      max: opts.poolMax ?? 10,
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 2000,
      idleTimeoutMillis: 30_000,
      statement_timeout: timeout,
      query_timeout: timeout + 1000,
      lock_timeout: timeout,
      application_name: 'portcullis',
      keepAlive: true,
      types,
      ...(ssl !== undefined ? { ssl } : {}),
    });
    // An idle client whose server went away emits 'error' on the pool: without a listener it would end the process.
    this.pool.on('error', (e) => opts.onIdleError?.(e));
    this.cache = new HotSessionCache(opts.cacheMs ?? 500, opts.hotSessions ?? 50_000);
    this.pendingTouches = new PendingTouches((batch) => this.writeTouches(batch)).every(opts.touchFlushMs ?? 1000);
  }

  /** Connects, brings the schema up to date (or checks it), and returns the store. */
  static async open(opts: PostgresStoreOptions): Promise<PostgresStore> {
    const store = new PostgresStore(opts);
    try {
      store.schemaChange = await store.migrate(opts.migrate ?? true);
      return store;
    } catch (e) {
      await store.close();
      throw e;
    }
  }

  /** Brings the schema to the newest version under an advisory lock (nodes starting together migrate once); returns [from, to]. */
  async migrate(apply = true): Promise<[number, number]> {
    return this.tx(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      await c.query('CREATE TABLE IF NOT EXISTS portcullis_schema (version INTEGER NOT NULL)');
      const r = await c.query('SELECT version FROM portcullis_schema');
      const current = (r.rows[0]?.version as number | undefined) ?? 0;
      if (current > pgMigrations.length) {
        throw new PgSchemaVersionError(`database schema version ${current} is newer than this Portcullis understands (${pgMigrations.length}); refusing to start`);
      }
      if (current < pgMigrations.length && !apply) {
        throw new PgSchemaVersionError(`database schema version ${current} is older than this Portcullis needs (${pgMigrations.length}); run "portcullis migrate"`);
      }
      for (let v = current; v < pgMigrations.length; v++) {
        const m = pgMigrations[v]!;
        if (typeof m === 'string') await c.query(m);
        else await m(c);
      }
      if (r.rowCount === 0) await c.query('INSERT INTO portcullis_schema (version) VALUES ($1)', [pgMigrations.length]);
      else if (current < pgMigrations.length) await c.query('UPDATE portcullis_schema SET version = $1', [pgMigrations.length]);
      return [current, pgMigrations.length];
    });
  }

  /** Whether the server answers a trivial query within the connect timeout. */
  async ping(): Promise<void> {
    await this.query('SELECT 1');
  }

  /** Sessions held (expired ones until the sweep deletes them): for the metrics, off the request path. */
  async countSessions(): Promise<number> {
    const r = await this.query('SELECT count(*)::int AS n FROM sessions');
    return (r.rows[0] as { n: number }).n;
  }

  private query(sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
    return guarded('PostgreSQL', () => this.pool.query(sql, params));
  }

  private async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    return guarded('PostgreSQL', async () => {
      const c = await this.pool.connect();
      let broken: Error | undefined;
      try {
        await c.query('BEGIN');
        const out = await fn(c);
        await c.query('COMMIT');
        return out;
      } catch (e) {
        await c.query('ROLLBACK').catch((re: unknown) => {
          broken = re instanceof Error ? re : new Error(String(re));
        });
        throw e;
      } finally {
        // A connection whose rollback failed is not given back to the pool.
        c.release(broken);
      }
    });
  }

  // ---- accounts -------------------------------------------------------------

  async createAccount(a: NewAccount, now: number): Promise<Account> {
    try {
      await this.query(
        `INSERT INTO accounts (username, roles, organizations, enterprise, disabled, must_change_password, password_hash, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)`,
        [a.username, JSON.stringify(a.roles), JSON.stringify(a.organizations), a.enterprise, a.disabled, a.mustChangePassword, a.passwordHash, now],
      );
    } catch (e) {
      if ((e as { code?: string }).code === '23505') throw new DuplicateAccountError(a.username);
      throw e;
    }
    return { ...a, createdAt: now, updatedAt: now };
  }

  async getAccount(username: string): Promise<Account | null> {
    const r = await this.query('SELECT * FROM accounts WHERE username = $1', [username]);
    return r.rows[0] ? toAccount(r.rows[0] as Row) : null;
  }

  async listAccountNames(): Promise<string[]> {
    const r = await this.query('SELECT username FROM accounts ORDER BY username COLLATE "C"');
    return r.rows.map((row) => (row as { username: string }).username);
  }

  async listAccounts(): Promise<Account[]> {
    // COLLATE "C": byte order, as every store sorts, whatever the database's locale.
    const r = await this.query('SELECT * FROM accounts ORDER BY username COLLATE "C"');
    return (r.rows as Row[]).map(toAccount);
  }

  async updateAccount(username: string, patch: AccountPatch, now: number): Promise<Account | null> {
    const sets: string[] = [];
    const params: unknown[] = [username, now];
    for (const [key, value] of Object.entries(patch) as [keyof AccountPatch, unknown][]) {
      if (value === undefined) continue;
      params.push(Array.isArray(value) ? JSON.stringify(value) : value);
      sets.push(`${PATCH_TO_COLUMN[key]} = $${params.length}`);
    }
    const r = await this.query(`UPDATE accounts SET ${[...sets, 'updated_at = $2'].join(', ')} WHERE username = $1 RETURNING *`, params);
    return r.rows[0] ? toAccount(r.rows[0] as Row) : null;
  }

  async deleteAccount(username: string): Promise<boolean> {
    return ((await this.query('DELETE FROM accounts WHERE username = $1', [username])).rowCount ?? 0) > 0;
  }

  async countAccounts(): Promise<number> {
    return (await this.query('SELECT count(*)::bigint AS n FROM accounts')).rows[0].n as number;
  }

  // ---- sessions -------------------------------------------------------------

  async createSession(s: SessionRecord): Promise<void> {
    await this.query(INSERT_SESSION, sessionParams(s));
    this.cache.put(s.tokenHash.toString('latin1'), { ...s });
  }

  async findSessionByTokenHash(tokenHash: Buffer): Promise<SessionRecord | null> {
    const key = tokenHash.toString('latin1');
    const hit = this.cache.get(key);
    if (hit) return hit;
    const r = await this.query('SELECT * FROM sessions WHERE token_hash = $1', [tokenHash]);
    if (!r.rows[0]) return null;
    const s = this.toSession(r.rows[0] as Row);
    this.cache.put(key, s);
    return s;
  }

  async getSession(id: string): Promise<SessionRecord | null> {
    const r = await this.query('SELECT * FROM sessions WHERE id = $1', [id]);
    return r.rows[0] ? this.toSession(r.rows[0] as Row) : null;
  }

  async listSessions(filter?: { username?: string }): Promise<SessionRecord[]> {
    const r =
      filter?.username !== undefined
        ? await this.query('SELECT * FROM sessions WHERE username = $1 ORDER BY created_at, id COLLATE "C"', [filter.username])
        : await this.query('SELECT * FROM sessions ORDER BY created_at, id COLLATE "C"');
    return (r.rows as Row[]).map((row) => this.toSession(row));
  }

  cachedSession(key: string): SessionRecord | undefined {
    return this.cache.get(key);
  }

  touchSession(id: string, at: number): void {
    this.pendingTouches.add(id, at);
    this.cache.touch(id, at);
  }

  async deleteSession(id: string): Promise<boolean> {
    this.pendingTouches.delete(id);
    this.cache.evict(id);
    return ((await this.query('DELETE FROM sessions WHERE id = $1', [id])).rowCount ?? 0) > 0;
  }

  async deleteSessionsOfUser(username: string): Promise<number> {
    const r = await this.query('DELETE FROM sessions WHERE username = $1 RETURNING id', [username]);
    for (const row of r.rows as { id: string }[]) {
      this.pendingTouches.delete(row.id);
      this.cache.evict(row.id);
    }
    this.cache.evictUser(username);
    return r.rowCount ?? 0;
  }

  async deleteExpiredSessions(now: number): Promise<SessionRecord[]> {
    await this.flushTouches();
    const r = await this.query(
      `DELETE FROM sessions WHERE expires_at <= $1 OR (idle_timeout_ms > 0 AND last_accessed_at + idle_timeout_ms <= $1) RETURNING *`,
      [now],
    );
    const gone = (r.rows as Row[]).map((row) => this.toSession(row));
    for (const s of gone) this.cache.evict(s.id);
    return gone;
  }

  async createSessionWithinLimit(s: SessionRecord, limit: number, now: number): Promise<boolean> {
    if (limit <= 0) {
      await this.createSession(s);
      return true;
    }
    const created = await this.tx(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`session-limit/${s.username}`]);
      const r = await c.query('SELECT id, last_accessed_at, idle_timeout_ms, expires_at FROM sessions WHERE username = $1', [s.username]);
      const live = (r.rows as Row[]).filter((row) =>
        sessionAlive(
          {
            expiresAt: row.expires_at as number,
            idleTimeoutMs: row.idle_timeout_ms as number,
            lastAccessedAt: this.pendingTouches.overlay(row.id as string, row.last_accessed_at as number),
          },
          now,
        ),
      ).length;
      if (live >= limit) return false;
      await c.query(INSERT_SESSION, sessionParams(s));
      return true;
    });
    if (created) this.cache.put(s.tokenHash.toString('latin1'), { ...s });
    return created;
  }

  /** Writes pending touches (one statement for all of them, never moving a time backwards). Failed writes stay pending. */
  flushTouches(): Promise<void> {
    return this.pendingTouches.flush();
  }

  private async writeTouches(batch: [string, number][]): Promise<void> {
    await this.query(
      `UPDATE sessions s SET last_accessed_at = GREATEST(s.last_accessed_at, v.at)
         FROM unnest($1::text[], $2::bigint[]) AS v(id, at) WHERE s.id = v.id`,
      [batch.map((b) => b[0]), batch.map((b) => b[1])],
    );
  }

  // ---- login guard ----------------------------------------------------------

  async recordLoginFailure(scope: FailureScope, subject: string, now: number, rule: FailureRule): Promise<FailureState & { lockedNow: boolean }> {
    const next = await this.tx(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`failure/${scope}/${subject}`]);
      const r = await c.query('SELECT count, first_at, locked_until FROM login_failures WHERE scope = $1 AND subject = $2', [scope, subject]);
      const n = nextFailure(failureRow(r.rows[0] as Row | undefined), now, rule);
      await c.query(
        `INSERT INTO login_failures (scope, subject, count, first_at, locked_until) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (scope, subject) DO UPDATE SET count = excluded.count, first_at = excluded.first_at, locked_until = excluded.locked_until`,
        [scope, subject, n.count, n.firstAt, n.lockedUntil],
      );
      return n;
    });
    return failureResult(next, now);
  }

  async getLoginFailures(scope: FailureScope, subject: string, now: number, windowMs: number): Promise<FailureState> {
    const r = await this.query('SELECT count, first_at, locked_until FROM login_failures WHERE scope = $1 AND subject = $2', [scope, subject]);
    return readFailure(failureRow(r.rows[0] as Row | undefined), now, windowMs);
  }

  async clearLoginFailures(scope: FailureScope, subject: string): Promise<boolean> {
    return ((await this.query('DELETE FROM login_failures WHERE scope = $1 AND subject = $2', [scope, subject])).rowCount ?? 0) > 0;
  }

  async rememberLoginSource(username: string, source: string, at: number): Promise<void> {
    await this.query(
      `INSERT INTO login_sources (username, source, last_success_at) VALUES ($1, $2, $3)
       ON CONFLICT (username, source) DO UPDATE SET last_success_at = GREATEST(login_sources.last_success_at, excluded.last_success_at)`,
      [username, source, at],
    );
  }

  async lastLoginFromSource(username: string, source: string): Promise<number | null> {
    const r = await this.query('SELECT last_success_at FROM login_sources WHERE username = $1 AND source = $2', [username, source]);
    return (r.rows[0]?.last_success_at as number | undefined) ?? null;
  }

  async listLoginFailures(scope: FailureScope, now: number, windowMs: number, limit: number): Promise<FailureEntry[]> {
    const r = await this.query(
      `SELECT subject, count, first_at, locked_until FROM login_failures
        WHERE scope = $1 AND (locked_until > $2 OR (locked_until = 0 AND first_at + $3 > $2))
        ORDER BY count DESC, subject LIMIT $4`,
      [scope, now, windowMs, limit],
    );
    return r.rows.map((x: Record<string, unknown>) => {
      const lockedUntil = Number(x.locked_until);
      return { subject: String(x.subject), count: Number(x.count), firstAt: Number(x.first_at), locked: lockedUntil > now, lockedUntil };
    });
  }

  async listLoginSources(since: number, limit: number): Promise<LoginSourceEntry[]> {
    const r = await this.query(
      'SELECT username, source, last_success_at FROM login_sources WHERE last_success_at >= $1 ORDER BY last_success_at DESC, username, source LIMIT $2',
      [since, limit],
    );
    return r.rows.map((x: Record<string, unknown>) => ({ username: String(x.username), source: String(x.source), at: Number(x.last_success_at) }));
  }

  async pruneLoginGuard(now: number, failuresBefore: number, sourcesBefore: number): Promise<number> {
    const f = await this.query('DELETE FROM login_failures WHERE (locked_until = 0 OR locked_until <= $1) AND first_at < $2', [now, failuresBefore]);
    const s = await this.query('DELETE FROM login_sources WHERE last_success_at < $1', [sourcesBefore]);
    return (f.rowCount ?? 0) + (s.rowCount ?? 0);
  }

  // ---- password history -----------------------------------------------------

  async addPasswordHistory(username: string, passwordHash: string, at: number, keep: number): Promise<void> {
    await this.tx(async (c) => {
      await c.query('INSERT INTO password_history (username, password_hash, set_at) VALUES ($1, $2, $3)', [username, passwordHash, at]);
      await c.query(
        `DELETE FROM password_history WHERE username = $1 AND seq NOT IN
           (SELECT seq FROM password_history WHERE username = $1 ORDER BY seq DESC LIMIT $2)`,
        [username, Math.max(1, keep)],
      );
    });
  }

  async getPasswordHistory(username: string, limit: number): Promise<{ passwordHash: string; at: number }[]> {
    if (limit <= 0) return [];
    const r = await this.query('SELECT password_hash, set_at FROM password_history WHERE username = $1 ORDER BY seq DESC LIMIT $2', [username, limit]);
    return (r.rows as Row[]).map((row) => ({ passwordHash: row.password_hash as string, at: row.set_at as number }));
  }

  async deletePasswordHistory(username: string): Promise<void> {
    await this.query('DELETE FROM password_history WHERE username = $1', [username]);
  }

  // ---- second factors -------------------------------------------------------

  async getSecondFactor(username: string): Promise<SecondFactor | null> {
    const r = await this.query(
      'SELECT f.*, (SELECT count(*)::int FROM recovery_codes r WHERE r.username = f.username) AS left_codes FROM second_factors f WHERE f.username = $1',
      [username],
    );
    const row = r.rows[0] as Row | undefined;
    if (!row) return null;
    return {
      username: row.username as string,
      secret: row.secret as string,
      createdAt: row.created_at as number,
      confirmedAt: (row.confirmed_at as number | null) ?? null,
      lastStep: row.last_step as number,
      recoveryLeft: row.left_codes as number,
    };
  }

  async putSecondFactor(username: string, secret: string, now: number): Promise<void> {
    await this.tx(async (c) => {
      await c.query('DELETE FROM second_factors WHERE username = $1', [username]);
      await c.query('INSERT INTO second_factors (username, secret, created_at, confirmed_at, last_step) VALUES ($1, $2, $3, NULL, -1)', [username, secret, now]);
    });
  }

  async confirmSecondFactor(username: string, step: number, recoveryHashes: string[], now: number): Promise<boolean> {
    return this.tx(async (c) => {
      const r = await c.query('UPDATE second_factors SET confirmed_at = $1, last_step = $2 WHERE username = $3 AND confirmed_at IS NULL AND last_step < $2', [now, step, username]);
      if (r.rowCount !== 1) return false;
      if (recoveryHashes.length > 0) {
        await c.query('INSERT INTO recovery_codes (username, code_hash) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING', [username, recoveryHashes]);
      }
      return true;
    });
  }

  async claimTotpStep(username: string, step: number): Promise<boolean> {
    // One UPDATE: the row lock makes racing claims of the same step succeed once.
    const r = await this.query('UPDATE second_factors SET last_step = $1 WHERE username = $2 AND confirmed_at IS NOT NULL AND last_step < $1', [step, username]);
    return r.rowCount === 1;
  }

  async consumeRecoveryCode(username: string, hash: string): Promise<boolean> {
    const r = await this.query(
      'DELETE FROM recovery_codes WHERE username = $1 AND code_hash = $2 AND EXISTS (SELECT 1 FROM second_factors f WHERE f.username = $1 AND f.confirmed_at IS NOT NULL)',
      [username, hash],
    );
    return r.rowCount === 1;
  }

  async deleteSecondFactor(username: string): Promise<boolean> {
    return ((await this.query('DELETE FROM second_factors WHERE username = $1', [username])).rowCount ?? 0) === 1;
  }

  async listSecondFactorUsers(): Promise<string[]> {
    return ((await this.query('SELECT username FROM second_factors WHERE confirmed_at IS NOT NULL ORDER BY username')).rows as Row[]).map((r) => r.username as string);
  }

  // ---- settings -------------------------------------------------------------

  async getSettings(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const row of (await this.query('SELECT name, value FROM settings')).rows as { name: string; value: number }[]) out[row.name] = row.value;
    return out;
  }

  async putSettings(values: Record<string, number>, now: number): Promise<void> {
    const entries = Object.entries(values);
    if (entries.length === 0) return;
    // One statement: all or none.
    await this.query(
      `INSERT INTO settings (name, value, updated_at) SELECT n, v, $3 FROM unnest($1::text[], $2::bigint[]) AS t(n, v)
       ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
      [entries.map((e) => e[0]), entries.map((e) => Math.trunc(e[1])), now],
    );
  }

  // ---- audit ----------------------------------------------------------------

  async appendAudit(e: AuditEvent): Promise<void> {
    await this.query(
      'INSERT INTO audit (at, kind, username, client_address, dialect, request_id, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)',
      [e.at, e.kind, e.username, e.clientAddress, e.dialect, e.requestId, JSON.stringify(e.detail)],
    );
  }

  async queryAudit(f: AuditFilter = {}): Promise<AuditRecord[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (f.username !== undefined) {
      params.push(f.username);
      where.push(`username = $${params.length}`);
    }
    if (f.kind !== undefined) {
      params.push(f.kind);
      where.push(f.kind.endsWith('.') ? `starts_with(kind, $${params.length})` : `kind = $${params.length}`);
    }
    if (f.since !== undefined) {
      params.push(f.since);
      where.push(`at >= $${params.length}`);
    }
    params.push(f.limit ?? 1000);
    const sql = `SELECT * FROM (SELECT * FROM audit ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT $${params.length}) t ORDER BY seq`;
    return ((await this.query(sql, params)).rows as Row[]).map((r) => ({
      seq: r.seq as number,
      at: r.at as number,
      kind: r.kind as string,
      username: r.username as string,
      clientAddress: r.client_address as string,
      dialect: r.dialect as string,
      requestId: r.request_id as string,
      detail: r.detail as AuditRecord['detail'],
    }));
  }

  async pruneAudit(before: number): Promise<number> {
    return (await this.query('DELETE FROM audit WHERE at < $1', [before])).rowCount ?? 0;
  }

  /** Writes what is pending and closes the pool. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.pendingTouches.stop();
    await this.flushTouches().catch(() => {
      /* the server is gone: those touches are lost, which can only make sessions end earlier */
    });
    this.cache.clear();
    await this.pool.end();
  }

  private toSession(r: Row): SessionRecord {
    const id = r.id as string;
    return {
      id,
      tokenHash: r.token_hash as Buffer,
      csrf: r.csrf as string,
      username: r.username as string,
      roles: r.roles as string[],
      organizations: r.organizations as string[],
      enterprise: r.enterprise as string,
      mustChangePassword: r.must_change_password as boolean,
      createdAt: r.created_at as number,
      lastAccessedAt: this.pendingTouches.overlay(id, r.last_accessed_at as number),
      idleTimeoutMs: r.idle_timeout_ms as number,
      expiresAt: r.expires_at as number,
      clientAddress: r.client_address as string,
      authSource: r.auth_source as string,
      authServer: r.auth_server as string,
      dialect: r.dialect as string,
    };
  }
}

const INSERT_SESSION = `INSERT INTO sessions (id, token_hash, csrf, username, roles, organizations, enterprise, must_change_password,
    created_at, last_accessed_at, idle_timeout_ms, expires_at, client_address, auth_source, auth_server, dialect)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`;

function sessionParams(s: SessionRecord): unknown[] {
  return [
    s.id,
    s.tokenHash,
    s.csrf,
    s.username,
    JSON.stringify(s.roles),
    JSON.stringify(s.organizations),
    s.enterprise,
    s.mustChangePassword,
    s.createdAt,
    s.lastAccessedAt,
    s.idleTimeoutMs,
    s.expiresAt,
    s.clientAddress,
    s.authSource,
    s.authServer,
    s.dialect,
  ];
}

function failureRow(r: Row | undefined): FailureRow | undefined {
  return r ? { count: r.count as number, firstAt: r.first_at as number, lockedUntil: r.locked_until as number } : undefined;
}

function toAccount(r: Row): Account {
  return {
    username: r.username as string,
    roles: r.roles as string[],
    organizations: r.organizations as string[],
    enterprise: r.enterprise as string,
    disabled: r.disabled as boolean,
    mustChangePassword: r.must_change_password as boolean,
    passwordHash: (r.password_hash as string | null) ?? null,
    createdAt: r.created_at as number,
    updatedAt: r.updated_at as number,
  };
}
