// Start to first answered request on the 1 M file of seed.mjs, RUNS times (killed with -9 between).
// `node bench/probes/start.mjs`; CLI=dist/other.js for another build, EXTRA="--flag" for node flags.
import { fetchOk } from './fetch.mjs';
import { stop } from '../lib.mjs';
import { dataDir, prepare, serve } from './common.mjs';

const dir = process.env.DIR ?? dataDir(1_000_000);
prepare(dir);
const t = [];
for (let i = 0; i < Number(process.env.RUNS ?? 5); i++) {
  const t0 = performance.now();
  const s = await serve(dir, { prepared: true, nodeFlags: process.env.EXTRA ? process.env.EXTRA.split(' ') : [] });
  await fetchOk(s.url);
  t.push(performance.now() - t0);
  stop(s.child);
}
console.log(`start to first answer (ms): ${t.map((x) => x.toFixed(0)).join(' ')}`);
