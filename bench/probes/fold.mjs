// What writing T random touches to session_touches and folding them into the 1 M sessions
// of seed.mjs cost, µs of CPU per touch, 3 rounds. `T=50000 node bench/probes/fold.mjs`
import { join } from 'node:path';
import { root } from '../lib.mjs';
import { dataDir } from './common.mjs';

const { SqliteStore } = await import(join(root, 'dist', 'adapters', 'store', 'sqlite', 'store.js'));
const N = Number(process.env.N ?? 1_000_000);
const T = Number(process.env.T ?? 200_000);
const store = new SqliteStore({ path: join(dataDir(N), 'portcullis.db'), touchFlushMs: 0, hotSessions: 0 });
const db = store.db;
while (store.foldTouches() > 0);
const put = db.prepare('INSERT INTO session_touches (id, at) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET at = max(at, excluded.at)');
for (let round = 0; round < 3; round++) {
  const now = Date.now();
  let c0 = process.cpuUsage();
  db.transaction(() => {
    for (let i = 0; i < T; i++) put.run('s' + Math.floor(Math.random() * N), now + round);
  })();
  let c = process.cpuUsage(c0);
  const write = (c.user + c.system) / T;
  c0 = process.cpuUsage();
  while (store.foldTouches() > 0);
  c = process.cpuUsage(c0);
  console.log(`${T} touches into ${N} sessions: write ${write.toFixed(1)} µs, fold ${((c.user + c.system) / T).toFixed(1)} µs CPU per touch`);
}
store.close();
