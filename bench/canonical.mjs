// Canonical identities (issue 19): what the name rules add to a login, in process,
// bounded (ITER lookups per figure; default 2000). Needs `npm run build` (dist/).
//
//   node bench/canonical.mjs            # or: npm run bench:canonical
//
// C1  foldName of typed names (the pre-bind failure key): ops/s.
// C2  the local account lookup by a typed name on SQLite: exact getAccount (before)
//     against findAccount with the case-folding key (exact read + the account list,
//     both on every login), with 10 and 1000 accounts. Compare with one argon2id
//     verification (≈ 11.5 ms at the OWASP parameters), which every local login pays.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { root } from './lib.mjs';

const ITER = Number(process.env.ITER ?? 2000);
const { foldName, caseFold } = await import(join(root, 'dist', 'core', 'identity-key.js'));
const { SqliteStore } = await import(join(root, 'dist', 'adapters', 'store', 'sqlite', 'store.js'));
const { LocalAccountsProvider } = await import(join(root, 'dist', 'adapters', 'identity', 'local', 'provider.js'));

const names = ['alice', 'ALICE@VSPHERE.LOCAL', 'VSPHERE\\Bob', 'straße@vsphere.local', 'carol@elsewhere.org'];
const domains = ['vsphere.local', 'VSPHERE'];
let t = performance.now();
let sink = 0;
for (let i = 0; i < ITER * 50; i++) sink += foldName(names[i % names.length], domains).length;
const foldOps = (ITER * 50) / ((performance.now() - t) / 1000);
console.log(`C1 foldName: ${Math.round(foldOps).toLocaleString('en')} ops/s (${(1e6 / foldOps).toFixed(2)} µs each)`);

for (const n of [10, 1000]) {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-canonical-'));
  const store = new SqliteStore({ path: join(dir, 'store.db'), touchFlushMs: 0 });
  try {
    for (let i = 0; i < n; i++) {
      await store.createAccount({ username: `user${i}`, roles: [], organizations: ['DEFAULT'], enterprise: 'E', disabled: false, mustChangePassword: false, passwordHash: null }, 1);
    }
    const exact = new LocalAccountsProvider(store, null, () => 0);
    const folded = new LocalAccountsProvider(store, null, () => 0, caseFold);
    const time = async (p, name) => {
      const t0 = performance.now();
      for (let i = 0; i < ITER; i++) sink += (await p.findAccount(name)) ? 1 : 0;
      return ((performance.now() - t0) * 1000) / ITER;
    };
    const before = await time(exact, `user${n >> 1}`);
    const hit = await time(folded, `user${n >> 1}`);
    const other = await time(folded, `USER${n >> 1}`);
    const none = await time(folded, 'nobody');
    console.log(`C2 ${n} accounts: exact ${before.toFixed(1)} µs; folded: exact spelling ${hit.toFixed(1)} µs, other case ${other.toFixed(1)} µs, unknown ${none.toFixed(1)} µs`);
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
if (sink < 0) console.log(sink);
