import type Database from 'better-sqlite3';
import { KEPT_SESSION_SOURCES, planCounters, planSources, type CounterRow, type SourceRow } from '../identity-migration.js';

/**
 * Versioned schema. Entry i brings the schema from version i to version i+1
 * (PRAGMA user_version). Never edit a released entry: append a new one. An
 * entry is SQL, or a function for steps SQL alone cannot do (Unicode folding);
 * every entry runs inside the one migration transaction.
 */
export const migrations: readonly (string | ((db: Database.Database) => void))[] = [
  // 1: accounts and sessions
  `
  CREATE TABLE accounts (
    username             TEXT PRIMARY KEY NOT NULL,
    roles                TEXT NOT NULL,            -- JSON array of strings
    organizations        TEXT NOT NULL,            -- JSON array of strings
    enterprise           TEXT NOT NULL,
    disabled             INTEGER NOT NULL DEFAULT 0,
    must_change_password INTEGER NOT NULL DEFAULT 0,
    password_hash        TEXT,
    created_at           INTEGER NOT NULL,         -- ms since epoch
    updated_at           INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE sessions (
    id                   TEXT PRIMARY KEY NOT NULL,
    token_hash           BLOB NOT NULL UNIQUE,     -- SHA-256 of the bearer token
    csrf                 TEXT NOT NULL,
    username             TEXT NOT NULL,
    roles                TEXT NOT NULL,
    organizations        TEXT NOT NULL,
    enterprise           TEXT NOT NULL,
    must_change_password INTEGER NOT NULL,
    created_at           INTEGER NOT NULL,
    last_accessed_at     INTEGER NOT NULL,
    idle_timeout_ms      INTEGER NOT NULL,         -- 0 = never
    expires_at           INTEGER NOT NULL,
    client_address       TEXT NOT NULL,
    auth_source          TEXT NOT NULL,
    auth_server          TEXT NOT NULL,
    dialect              TEXT NOT NULL
  ) STRICT;
  CREATE INDEX sessions_by_user ON sessions (username);
  CREATE INDEX sessions_by_expiry ON sessions (expires_at);
  `,
  // 2: account policy (settings), brute-force counters, login sources, password history, audit trail
  `
  CREATE TABLE settings (
    name                 TEXT PRIMARY KEY NOT NULL,
    value                INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE login_failures (
    scope                TEXT NOT NULL,            -- 'account' | 'source'
    subject              TEXT NOT NULL,
    count                INTEGER NOT NULL,
    first_at             INTEGER NOT NULL,         -- first failure of the run
    locked_until         INTEGER NOT NULL DEFAULT 0, -- 0 = not locked
    PRIMARY KEY (scope, subject)
  ) STRICT;

  CREATE TABLE login_sources (
    username             TEXT NOT NULL,
    source               TEXT NOT NULL,
    last_success_at      INTEGER NOT NULL,
    PRIMARY KEY (username, source)
  ) STRICT;

  CREATE TABLE password_history (
    username             TEXT NOT NULL,
    seq                  INTEGER PRIMARY KEY AUTOINCREMENT,
    password_hash        TEXT NOT NULL,
    set_at               INTEGER NOT NULL
  );
  CREATE INDEX password_history_by_user ON password_history (username, seq);

  CREATE TABLE audit (
    seq                  INTEGER PRIMARY KEY AUTOINCREMENT,
    at                   INTEGER NOT NULL,
    kind                 TEXT NOT NULL,
    username             TEXT NOT NULL,
    client_address       TEXT NOT NULL,
    dialect              TEXT NOT NULL,
    request_id           TEXT NOT NULL,
    detail               TEXT NOT NULL             -- JSON object
  );
  CREATE INDEX audit_by_time ON audit (at);
  CREATE INDEX audit_by_user ON audit (username, at);
  `,
  // 3: the expiry sweep finds idle sessions through an index instead of scanning every row (85 ms at 1 M sessions, once a minute, on the event loop)
  `
  CREATE INDEX sessions_by_idle_deadline ON sessions (last_accessed_at + idle_timeout_ms) WHERE idle_timeout_ms > 0;
  `,
  // 4: canonical identities (README "Identities", src/adapters/store/identity-migration.ts)
  identitiesMigration,
  // 5: TOTP second factors and their recovery codes (hashes only)
  `
  CREATE TABLE second_factors (
    username             TEXT PRIMARY KEY,
    secret               TEXT NOT NULL,
    created_at           INTEGER NOT NULL,
    confirmed_at         INTEGER,
    last_step            INTEGER NOT NULL DEFAULT -1
  ) STRICT;
  CREATE TABLE recovery_codes (
    username             TEXT NOT NULL REFERENCES second_factors (username) ON DELETE CASCADE,
    code_hash            TEXT NOT NULL,
    PRIMARY KEY (username, code_hash)
  ) STRICT;
  `,
  // 6: "last accessed" written to a narrow table, folded into sessions in the background (BENCHMARKS B4):
  // a second's touches dirty a few pages of it instead of one random page of sessions each
  `
  CREATE TABLE session_touches (
    id                   TEXT PRIMARY KEY NOT NULL,
    at                   INTEGER NOT NULL
  ) STRICT, WITHOUT ROWID;
  `,
];

function identitiesMigration(db: Database.Database): void {
  const kept = KEPT_SESSION_SOURCES.map((s) => `'${s}'`).join(', ');
  db.exec(`
    DELETE FROM sessions WHERE auth_source NOT IN (${kept});
    UPDATE sessions SET username = 'local:' || username
      WHERE auth_source = 'local' AND (username GLOB 'local:?*' OR username GLOB 'pam:?*' OR username GLOB 'ldap:?*');
  `);
  const counters = db
    .prepare(`SELECT subject, count, first_at AS firstAt, locked_until AS lockedUntil FROM login_failures WHERE scope = 'account'`)
    .all() as CounterRow[];
  const c = planCounters(counters);
  const delCounter = db.prepare(`DELETE FROM login_failures WHERE scope = 'account' AND subject = ?`);
  const putCounter = db.prepare(`INSERT INTO login_failures (scope, subject, count, first_at, locked_until) VALUES ('account', ?, ?, ?, ?)`);
  for (const subject of c.remove) delCounter.run(subject);
  for (const r of c.put) putCounter.run(r.subject, r.count, r.firstAt, r.lockedUntil);

  const sources = db.prepare('SELECT username, source, last_success_at AS at FROM login_sources').all() as SourceRow[];
  const p = planSources(sources);
  const delSource = db.prepare('DELETE FROM login_sources WHERE username = ? AND source = ?');
  const putSource = db.prepare('INSERT INTO login_sources (username, source, last_success_at) VALUES (?, ?, ?)');
  for (const r of p.remove) delSource.run(r.username, r.source);
  for (const r of p.put) putSource.run(r.username, r.source, r.at);
}
