// The cold read of seed.mjs's 1 M file against a copy rebuilt as a WITHOUT ROWID table keyed
// by token hash (one b-tree descent instead of index + row). `node bench/probes/without-rowid.mjs`
import { createHash } from 'node:crypto';
import { rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { root } from '../lib.mjs';
import { PROBE_DIR, dataDir, token } from './common.mjs';

const Database = createRequire(join(root, 'package.json'))('better-sqlite3');
const N = 1_000_000;
const src = join(dataDir(N), 'portcullis.db');
const copy = join(PROBE_DIR, 'without-rowid.db');
rmSync(copy, { force: true });
const w = new Database(copy);
w.pragma('journal_mode = WAL');
w.exec(`ATTACH '${src}' AS o;
  CREATE TABLE sessions (
    token_hash BLOB PRIMARY KEY NOT NULL, id TEXT NOT NULL UNIQUE, csrf TEXT NOT NULL, username TEXT NOT NULL, roles TEXT NOT NULL, organizations TEXT NOT NULL,
    enterprise TEXT NOT NULL, must_change_password INTEGER NOT NULL, created_at INTEGER NOT NULL, last_accessed_at INTEGER NOT NULL, idle_timeout_ms INTEGER NOT NULL,
    expires_at INTEGER NOT NULL, client_address TEXT NOT NULL, auth_source TEXT NOT NULL, auth_server TEXT NOT NULL, dialect TEXT NOT NULL) STRICT, WITHOUT ROWID;
  INSERT INTO sessions SELECT token_hash, id, csrf, username, roles, organizations, enterprise, must_change_password, created_at, last_accessed_at,
    idle_timeout_ms, expires_at, client_address, auth_source, auth_server, dialect FROM o.sessions;
  CREATE INDEX sessions_by_user ON sessions (username);
  CREATE INDEX sessions_by_expiry ON sessions (expires_at);
  CREATE INDEX sessions_by_idle_deadline ON sessions (last_accessed_at + idle_timeout_ms) WHERE idle_timeout_ms > 0;
  CREATE TABLE session_touches (id TEXT PRIMARY KEY NOT NULL, at INTEGER NOT NULL) STRICT, WITHOUT ROWID;
  DETACH o;`);
w.close();
const hashes = Array.from({ length: 20000 }, () => createHash('sha256').update(token(Math.floor(Math.random() * N)), 'latin1').digest());
for (const [name, path] of [['rowid table', src], ['WITHOUT ROWID', copy], ['rowid table', src], ['WITHOUT ROWID', copy]]) {
  const db = new Database(path, { readonly: true });
  db.pragma('cache_size = -32768');
  const st = db.prepare('SELECT s.*, t.at FROM sessions s LEFT JOIN session_touches t ON t.id = s.id WHERE s.token_hash = ?').raw(true);
  const M = 200_000;
  for (let i = 0; i < 20000; i++) st.get(hashes[i]);
  const c0 = process.cpuUsage();
  for (let i = 0; i < M; i++) st.get(hashes[i % 20000]);
  const c = process.cpuUsage(c0);
  console.log(`${name.padEnd(14)} ${((c.user + c.system) / M).toFixed(2)} µs CPU per cold read; file ${(statSync(path).size / 1048576).toFixed(0)} MiB`);
  db.close();
}
