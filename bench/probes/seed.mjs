// Seeds N sessions (default 1 000 000) and 10 000 into $PROBE_DIR as B4 does, then times
// a cold read by token hash three ways. `node bench/probes/seed.mjs`
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { root } from '../lib.mjs';
import { dataDir, token } from './common.mjs';

const { SqliteStore } = await import(join(root, 'dist', 'adapters', 'store', 'sqlite', 'store.js'));
const sizes = [Number(process.env.N ?? 1_000_000), 10_000];
for (const n of sizes) {
  const dir = dataDir(n);
  const path = join(dir, 'portcullis.db');
  if (!existsSync(path) || process.env.RESEED) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const store = new SqliteStore({ path, touchFlushMs: 0, hotSessions: 0 });
    const ins = store.db.prepare(`INSERT INTO sessions (id, token_hash, csrf, username, roles, organizations, enterprise, must_change_password,
      created_at, last_accessed_at, idle_timeout_ms, expires_at, client_address, auth_source, auth_server, dialect)
      VALUES (?, ?, 'csrf', ?, '["System Administrator"]', '["DEFAULT"]', 'HybridityAdmin', 0, ?, ?, 0, ?, '127.0.0.1', 'local', '127.0.0.1', 'hcx')`);
    const now = Date.now();
    store.db.pragma('synchronous = OFF');
    const batch = store.db.transaction((from, to) => {
      for (let i = from; i < to; i++) ins.run('s' + i, createHash('sha256').update(token(i), 'latin1').digest(), 'user' + (i % 1000), now - 3600000, now - 3600000, now + 7 * 86400000);
    });
    for (let i = 0; i < n; i += 50000) batch(i, Math.min(n, i + 50000));
    store.close();
    console.log(`seeded ${n} sessions in ${path}`);
  }
  const store = new SqliteStore({ path, hotSessions: 0, touchFlushMs: 0 });
  const hashes = Array.from({ length: 20000 }, () => createHash('sha256').update(token(Math.floor(Math.random() * n)), 'latin1').digest());
  const time = (name, f) => {
    const M = 200_000;
    for (let i = 0; i < 20000; i++) f(i);
    const c0 = process.cpuUsage();
    for (let i = 0; i < M; i++) f(i);
    const c = process.cpuUsage(c0);
    console.log(`${n} stored: ${name.padEnd(34)} ${((c.user + c.system) / M).toFixed(2)} µs CPU`);
  };
  const joined = store.db.prepare(`SELECT s.*, t.at FROM sessions s LEFT JOIN session_touches t ON t.id = s.id WHERE s.token_hash = ?`).raw(true);
  const plain = store.db.prepare('SELECT * FROM sessions WHERE token_hash = ?').raw(true);
  const index = store.db.prepare('SELECT id FROM sessions WHERE token_hash = ?').raw(true);
  time('row joined with its touch', (i) => joined.get(hashes[i % hashes.length]));
  time('row alone', (i) => plain.get(hashes[i % hashes.length]));
  time('token-hash index alone', (i) => index.get(hashes[i % hashes.length]));
  store.close();
}
