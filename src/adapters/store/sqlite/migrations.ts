/**
 * Versioned schema. Entry i brings the schema from version i to version i+1
 * (PRAGMA user_version). Never edit a released entry: append a new one.
 */
export const migrations: readonly string[] = [
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
];
