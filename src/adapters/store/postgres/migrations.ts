import type pg from 'pg';
import { KEPT_SESSION_SOURCES, planCounters, planSources, type CounterRow, type SourceRow } from '../identity-migration.js';

/**
 * Versioned PostgreSQL schema. Entry i brings the schema from version i to i+1
 * (table portcullis_schema). Never edit a released entry: append a new one.
 * An entry is SQL, or a function for steps SQL alone cannot do (Unicode folding);
 * all run in the one migration transaction.
 * Times are BIGINT milliseconds since the epoch, as in every store.
 */
export const pgMigrations: readonly (string | ((c: pg.PoolClient) => Promise<void>))[] = [
  // 1: everything the SQLite schema has at its version 2
  `
  CREATE TABLE accounts (
    username             TEXT PRIMARY KEY,
    roles                JSONB NOT NULL,
    organizations        JSONB NOT NULL,
    enterprise           TEXT NOT NULL,
    disabled             BOOLEAN NOT NULL DEFAULT false,
    must_change_password BOOLEAN NOT NULL DEFAULT false,
    password_hash        TEXT,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
  );

  CREATE TABLE sessions (
    id                   TEXT PRIMARY KEY,
    token_hash           BYTEA NOT NULL UNIQUE,
    csrf                 TEXT NOT NULL,
    username             TEXT NOT NULL,
    roles                JSONB NOT NULL,
    organizations        JSONB NOT NULL,
    enterprise           TEXT NOT NULL,
    must_change_password BOOLEAN NOT NULL,
    created_at           BIGINT NOT NULL,
    last_accessed_at     BIGINT NOT NULL,
    idle_timeout_ms      BIGINT NOT NULL,
    expires_at           BIGINT NOT NULL,
    client_address       TEXT NOT NULL,
    auth_source          TEXT NOT NULL,
    auth_server          TEXT NOT NULL,
    dialect              TEXT NOT NULL
  );
  CREATE INDEX sessions_by_user ON sessions (username);
  CREATE INDEX sessions_by_expiry ON sessions (expires_at);

  CREATE TABLE settings (
    name                 TEXT PRIMARY KEY,
    value                BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
  );

  CREATE TABLE login_failures (
    scope                TEXT NOT NULL,
    subject              TEXT NOT NULL,
    count                INTEGER NOT NULL,
    first_at             BIGINT NOT NULL,
    locked_until         BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (scope, subject)
  );

  CREATE TABLE login_sources (
    username             TEXT NOT NULL,
    source               TEXT NOT NULL,
    last_success_at      BIGINT NOT NULL,
    PRIMARY KEY (username, source)
  );

  CREATE TABLE password_history (
    seq                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username             TEXT NOT NULL,
    password_hash        TEXT NOT NULL,
    set_at               BIGINT NOT NULL
  );
  CREATE INDEX password_history_by_user ON password_history (username, seq);

  CREATE TABLE audit (
    seq                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at                   BIGINT NOT NULL,
    kind                 TEXT NOT NULL,
    username             TEXT NOT NULL,
    client_address       TEXT NOT NULL,
    dialect              TEXT NOT NULL,
    request_id           TEXT NOT NULL,
    detail               JSONB NOT NULL
  );
  CREATE INDEX audit_by_time ON audit (at);
  CREATE INDEX audit_by_user ON audit (username, at);
  `,
  // 2: the expiry sweep finds idle sessions through an index instead of scanning every row
  `
  CREATE INDEX sessions_by_idle_deadline ON sessions ((last_accessed_at + idle_timeout_ms)) WHERE idle_timeout_ms > 0;
  `,
  // 3: canonical identities (README "Identities", src/adapters/store/identity-migration.ts)
  identitiesMigration,
];

async function identitiesMigration(c: pg.PoolClient): Promise<void> {
  await c.query('DELETE FROM sessions WHERE NOT (auth_source = ANY($1))', [[...KEPT_SESSION_SOURCES]]);
  await c.query(
    `UPDATE sessions SET username = 'local:' || username
      WHERE auth_source = 'local' AND (username ~ '^local:.' OR username ~ '^pam:.' OR username ~ '^ldap:.')`,
  );
  const counters = await c.query(
    `SELECT subject, count, first_at::float8 AS "firstAt", locked_until::float8 AS "lockedUntil" FROM login_failures WHERE scope = 'account'`,
  );
  const plan = planCounters(counters.rows as CounterRow[]);
  if (plan.remove.length) await c.query(`DELETE FROM login_failures WHERE scope = 'account' AND subject = ANY($1)`, [plan.remove]);
  for (const r of plan.put) {
    await c.query(`INSERT INTO login_failures (scope, subject, count, first_at, locked_until) VALUES ('account', $1, $2, $3, $4)`, [r.subject, r.count, r.firstAt, r.lockedUntil]);
  }
  const sources = await c.query('SELECT username, source, last_success_at::float8 AS at FROM login_sources');
  const sp = planSources(sources.rows as SourceRow[]);
  for (const r of sp.remove) await c.query('DELETE FROM login_sources WHERE username = $1 AND source = $2', [r.username, r.source]);
  for (const r of sp.put) await c.query('INSERT INTO login_sources (username, source, last_success_at) VALUES ($1, $2, $3)', [r.username, r.source, r.at]);
}
