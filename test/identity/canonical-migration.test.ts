import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { PostgresStore } from '../../src/adapters/store/postgres/store.js';
import { pgMigrations } from '../../src/adapters/store/postgres/migrations.js';
import { REDIS_SCHEMA } from '../../src/adapters/store/redis/migrate.js';
import { RedisStore } from '../../src/adapters/store/redis/store.js';
import { migrations } from '../../src/adapters/store/sqlite/migrations.js';
import { SqliteStore } from '../../src/adapters/store/sqlite/store.js';
import type { LoginGuardStore, SessionRecord, SessionStore } from '../../src/ports/store.js';
import { tempDir } from '../helpers.js';
import { havePostgres, haveRedis, startPostgres, startRedis, type TestPostgres, type TestRedis } from '../servers.js';

/*
 * The upgrade to canonical identities (README "Identities"), on every store: sessions
 * kept under typed names end, local ones stay; failure counters and trusted sources
 * are re-keyed by the folded name and merged without losing a failure or a lock.
 */

const NOW = 1_800_000_000_000;
const HOUR = 3_600_000;
const LOCKED_UNTIL = NOW + HOUR;

function session(id: string, username: string, authSource: string): SessionRecord {
  return {
    id,
    tokenHash: Buffer.alloc(32, id.charCodeAt(id.length - 1)),
    csrf: `csrf-${id}`,
    username,
    roles: ['Auditor'],
    organizations: ['DEFAULT'],
    enterprise: 'E',
    mustChangePassword: false,
    createdAt: NOW - 1000,
    lastAccessedAt: NOW - 1000,
    idleTimeoutMs: 0,
    expiresAt: NOW + 10 * HOUR,
    clientAddress: '192.0.2.50',
    authSource,
    authServer: '127.0.0.1',
    dialect: 'hcx',
  };
}

/** Sessions as the old code stored them: local under the account's name, others under what was typed. */
const OLD_SESSIONS = [session('s-local-1', 'alice', 'local'), session('s-ldap-2', 'ALICE', 'ldap'), session('s-pam-3', 'bob', 'pam'), session('s-odd-4', 'ldap:eve', 'local')];
/** Account counters under three spellings of alice (one locked), one of bob, and a source counter. */
const OLD_COUNTERS: [string, string, number, number, number][] = [
  ['account', 'Alice', 5, NOW - 3000, 0],
  ['account', 'ALICE', 20, NOW - 5000, LOCKED_UNTIL],
  ['account', 'alice@vsphere.local', 3, NOW - 4000, 0],
  ['account', 'bob', 2, NOW - 1000, 0],
  ['source', '192.0.2.9', 4, NOW - 2000, 0],
];
const OLD_SOURCES: [string, string, number][] = [
  ['Alice', '192.0.2.1', NOW - 9000],
  ['alice', '192.0.2.1', NOW - 7000],
  ['VSPHERE\\ALICE', '192.0.2.2', NOW - 8000],
];

/**
 * `qualifiedLocal`: what happens to a local account's session whose name reads as a qualified identity
 * (`ldap:eve`): the SQL stores rename it `local:ldap:eve`; Redis ends it (rewriting its JSON in Lua would round its times).
 */
async function assertMigrated(store: SessionStore & LoginGuardStore, qualifiedLocal: 'renamed' | 'ended'): Promise<void> {
  const sessions = (await store.listSessions()).map((s) => [s.id, s.username]).sort();
  const kept = qualifiedLocal === 'renamed' ? [['s-local-1', 'alice'], ['s-odd-4', 'local:ldap:eve']] : [['s-local-1', 'alice']];
  assert.deepEqual(sessions, kept, 'local sessions stay; those under typed names end');
  assert.deepEqual(await store.listSessions({ username: 'ALICE' }), []);
  const alice = await store.getLoginFailures('account', 'alice', NOW, HOUR);
  assert.deepEqual(alice, { count: 28, locked: true, lockedUntil: LOCKED_UNTIL }, 'every failure counted, the lock kept');
  for (const old of ['Alice', 'ALICE', 'alice@vsphere.local']) assert.equal((await store.getLoginFailures('account', old, NOW, HOUR)).count, 0, old);
  assert.equal((await store.getLoginFailures('account', 'bob', NOW, HOUR)).count, 2);
  assert.equal((await store.getLoginFailures('source', '192.0.2.9', NOW, HOUR)).count, 4, 'source counters are not names');
  assert.equal(await store.lastLoginFromSource('alice', '192.0.2.1'), NOW - 7000, 'the latest success wins');
  assert.equal(await store.lastLoginFromSource('alice', '192.0.2.2'), NOW - 8000);
  assert.equal(await store.lastLoginFromSource('Alice', '192.0.2.1'), null);
  // The merged counter goes on as one: one more failure locks nothing new and counts 29.
  const next = await store.recordLoginFailure('account', 'alice', NOW + 1, { limit: 20, windowMs: HOUR, lockMs: HOUR });
  assert.equal(next.count, 29);
  assert.equal(next.lockedNow, false);
}

describe('upgrade to canonical identities: SQLite (migration 4)', () => {
  const dir = tempDir('portcullis-identity-mig-');
  after(() => dir.remove());

  it('maps or ends old sessions and merges old counters and trusted sources', async () => {
    mkdirSync(join(dir.path, 'v3'));
    const path = join(dir.path, 'v3', 'store.db');
    const raw = new Database(path);
    for (const m of migrations.slice(0, 3)) raw.exec(m as string);
    raw.pragma('user_version = 3');
    const ins = raw.prepare(
      `INSERT INTO sessions (id, token_hash, csrf, username, roles, organizations, enterprise, must_change_password, created_at, last_accessed_at, idle_timeout_ms, expires_at, client_address, auth_source, auth_server, dialect)
       VALUES (?, ?, ?, ?, '["Auditor"]', '["DEFAULT"]', 'E', 0, ?, ?, 0, ?, '192.0.2.50', ?, '127.0.0.1', 'hcx')`,
    );
    for (const s of OLD_SESSIONS) ins.run(s.id, s.tokenHash, s.csrf, s.username, s.createdAt, s.lastAccessedAt, s.expiresAt, s.authSource);
    for (const c of OLD_COUNTERS) raw.prepare('INSERT INTO login_failures (scope, subject, count, first_at, locked_until) VALUES (?, ?, ?, ?, ?)').run(...c);
    for (const s of OLD_SOURCES) raw.prepare('INSERT INTO login_sources (username, source, last_success_at) VALUES (?, ?, ?)').run(...s);
    raw.close();

    const store = new SqliteStore({ path, touchFlushMs: 0 });
    try {
      assert.equal(store.db.pragma('user_version', { simple: true }), migrations.length);
      await assertMigrated(store, 'renamed');
    } finally {
      store.close();
    }
  });
});

describe('upgrade to canonical identities: PostgreSQL (migration 3)', { skip: havePostgres() }, () => {
  let server: TestPostgres;
  before(async () => {
    server = await startPostgres();
  });
  after(() => server?.destroy());

  it('maps or ends old sessions and merges old counters and trusted sources', async () => {
    const url = await server.newDatabase();
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      for (const m of pgMigrations.slice(0, 2)) await c.query(m as string);
      await c.query('CREATE TABLE portcullis_schema (version INTEGER NOT NULL)');
      await c.query('INSERT INTO portcullis_schema (version) VALUES (2)');
      for (const s of OLD_SESSIONS) {
        await c.query(
          `INSERT INTO sessions (id, token_hash, csrf, username, roles, organizations, enterprise, must_change_password, created_at, last_accessed_at, idle_timeout_ms, expires_at, client_address, auth_source, auth_server, dialect)
           VALUES ($1, $2, $3, $4, '["Auditor"]', '["DEFAULT"]', 'E', false, $5, $6, 0, $7, '192.0.2.50', $8, '127.0.0.1', 'hcx')`,
          [s.id, s.tokenHash, s.csrf, s.username, s.createdAt, s.lastAccessedAt, s.expiresAt, s.authSource],
        );
      }
      for (const row of OLD_COUNTERS) await c.query('INSERT INTO login_failures (scope, subject, count, first_at, locked_until) VALUES ($1, $2, $3, $4, $5)', row);
      for (const row of OLD_SOURCES) await c.query('INSERT INTO login_sources (username, source, last_success_at) VALUES ($1, $2, $3)', row);
    } finally {
      await c.end();
    }
    const store = await PostgresStore.open({ url, touchFlushMs: 0 });
    try {
      assert.deepEqual(store.schemaChange, [2, pgMigrations.length]);
      await assertMigrated(store, 'renamed');
    } finally {
      await store.close();
    }
  });
});

describe('upgrade to canonical identities: Redis (layout 1)', { skip: haveRedis() }, () => {
  let server: TestRedis;
  before(async () => {
    server = await startRedis();
  });
  after(() => server?.destroy());

  it('maps or ends old sessions and merges old counters and trusted sources, once', async () => {
    const url = await server.newDatabase();
    // Write the old state with the store itself, then take the layout version away: what an older Portcullis left.
    const old = await RedisStore.open({ url, touchFlushMs: 0 });
    try {
      assert.deepEqual(old.schemaChange, [0, REDIS_SCHEMA], 'an empty Redis is brought to the layout at once');
      for (const s of OLD_SESSIONS) await old.createSession(s);
      for (const [scope, subject, count, first, lock] of OLD_COUNTERS) {
        for (let i = 0; i < count; i++) {
          await old.recordLoginFailure(scope as 'account' | 'source', subject, first, { limit: lock ? count : 0, windowMs: HOUR, lockMs: lock ? lock - first : 0 });
        }
      }
      for (const [u, src, at] of OLD_SOURCES) await old.rememberLoginSource(u, src, at);
      await old.client.del('{portcullis}:schema');
    } finally {
      await old.close();
    }
    const store = await RedisStore.open({ url, touchFlushMs: 0 });
    try {
      assert.deepEqual(store.schemaChange, [0, REDIS_SCHEMA]);
      // The locked counter's lock was set at its first failure + lockMs: the same LOCKED_UNTIL.
      await assertMigrated(store, 'ended');
    } finally {
      await store.close();
    }
    const again = await RedisStore.open({ url, touchFlushMs: 0 });
    try {
      assert.deepEqual(again.schemaChange, [REDIS_SCHEMA, REDIS_SCHEMA], 'a second start migrates nothing');
    } finally {
      await again.close();
    }
  });
});
