// A 10 s login load (8 at once, as B2) and its CPU per login, thread by thread, user and
// system (/proc): the event loop (tid = pid) against the hashing threads. `node bench/probes/login-threads.mjs`
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cli, load, stop, threadCpu } from '../lib.mjs';
import { PROBE_DIR, serve } from './common.mjs';

const dir = join(PROBE_DIR, 'logins');
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
execFileSync(process.execPath, [cli, 'user', 'add', 'probe', '--role', 'System Administrator', '--password-stdin', '--data-dir', dir], { input: 'Probe-Pass-12345', stdio: ['pipe', 'ignore', 'ignore'] });
const s = await serve(dir);
const body = JSON.stringify({ username: 'probe', password: 'Probe-Pass-12345' });
try {
  await (await fetch(s.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).arrayBuffer();
  const before = threadCpu(s.child.pid);
  const r = await load({ url: s.url, method: 'POST', headers: { 'content-type': 'application/json' }, connections: 8, duration: 10, body }, s.child.pid);
  const after = threadCpu(s.child.pid);
  console.log(`${r.rps.toFixed(1)} logins/s; ${r.cpuUs.toFixed(0)} µs of CPU per login in all`);
  for (const [tid, [u, sy]] of Object.entries(after)) {
    const [u0, s0] = before[tid] ?? [0, 0];
    const per = (x) => (x / 1000 / r.total).toFixed(2);
    if (u - u0 + sy - s0 > 20_000) console.log(`  thread ${tid}${tid === String(s.child.pid) ? ' (event loop)' : ''}: ${per(u - u0 + sy - s0)} ms per login (user ${per(u - u0)}, system ${per(sy - s0)})`);
  }
} finally {
  stop(s.child);
}
