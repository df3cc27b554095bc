// B4b in quick interleaved pairs: checks uniform over 10 000 stored, then uniform over
// 1 000 000 stored (seed.mjs first). `node bench/probes/pairs.mjs` (PAIRS=7, SECS=2, PROF=1).
import { join } from 'node:path';
import { load, stop } from '../lib.mjs';
import { PROBE_DIR, dataDir, median, serve, terminate, token } from './common.mjs';

const big = Number(process.env.N ?? 1_000_000);
const small = await serve(dataDir(10_000));
const large = await serve(dataDir(big), { nodeFlags: process.env.PROF ? ['--cpu-prof', `--cpu-prof-dir=${join(PROBE_DIR, 'profiles')}`] : [] });
const opts = (s, n) => ({ url: s.url, connections: 50, duration: Number(process.env.SECS ?? 2), requests: [{ setupRequest: (req) => ({ ...req, headers: { ...req.headers, 'x-hm-authorization': token(Math.floor(Math.random() * n)) } }) }] });
try {
  await load({ ...opts(small, 10_000), duration: 2 });
  await load({ ...opts(large, big), duration: 2 });
  const r = [];
  for (let i = 0; i < Number(process.env.PAIRS ?? 7); i++) {
    const a = await load(opts(small, 10_000), small.child.pid);
    const b = await load(opts(large, big), large.child.pid);
    r.push({ ratio: a.cpuUs / b.cpuUs, small: a.cpuUs, large: b.cpuUs });
  }
  console.log(`pairs ${r.map((x) => x.ratio.toFixed(2)).join(' ')} | median ratio ${median(r.map((x) => x.ratio)).toFixed(2)}; CPU ${median(r.map((x) => x.small)).toFixed(1)} (10 k) vs ${median(r.map((x) => x.large)).toFixed(1)} (${big}) µs/req`);
} finally {
  stop(small.child);
  await terminate(large.child);
}
