// Resident memory and V8's heap spaces of a server on the 1 M file of seed.mjs: idle, after 4
// logins, after 15 s loads (B4a, B4b, B4a), then idle. Metrics on (a loopback listener) give the heap.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, freePort, load, stop } from '../lib.mjs';
import { PROBE_DIR, dataDir, serve, token } from './common.mjs';

const dir = dataDir(1_000_000);
try {
  execFileSync(process.execPath, [cli, 'user', 'add', 'probe', '--role', 'System Administrator', '--password-stdin', '--data-dir', dir], { input: 'Probe-Pass-12345', stdio: ['pipe', 'ignore', 'ignore'] });
} catch {
  // already there
}
const mport = await freePort();
const config = join(PROBE_DIR, 'metrics.json');
writeFileSync(config, JSON.stringify({ metrics: { enabled: true, port: mport } }));
const s = await serve(dir, { args: ['--config', config] });
const pid = s.child.pid;
const mib = (k, text) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(text)[1]) / 1024;
async function show(what) {
  const st = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = await (await fetch(`http://127.0.0.1:${mport}/metrics`)).text();
  const spaces = [...m.matchAll(/^portcullis_nodejs_heap_space_size_total_bytes\{space="(\w+)"\} (\S+)/gm)].filter((x) => Number(x[2]) > 0).map((x) => `${x[1]} ${(Number(x[2]) / 1048576).toFixed(0)}`);
  const used = Number(/^portcullis_nodejs_heap_size_used_bytes (\S+)/m.exec(m)[1]) / 1048576;
  console.log(`${what.padEnd(14)} RSS ${mib('VmRSS', st).toFixed(0)} MiB (anon ${mib('RssAnon', st).toFixed(0)}, files ${mib('RssFile', st).toFixed(0)}); V8 heap: ${spaces.join(', ')} MiB, used ${used.toFixed(0)}`);
}
const opts = (pick) => ({ url: s.url, connections: 50, duration: 15, requests: [{ setupRequest: (req) => ({ ...req, headers: { ...req.headers, 'x-hm-authorization': token(pick()) } }) }] });
try {
  await new Promise((r) => setTimeout(r, 1500));
  await show('idle');
  for (let i = 0; i < 4; i++) {
    const r = await fetch(s.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'probe', password: 'Probe-Pass-12345' }) });
    await r.arrayBuffer();
  }
  await show('4 logins');
  await load(opts(() => Math.floor(Math.random() * 10_000) * 100));
  await show('B4a 15 s');
  await load(opts(() => Math.floor(Math.random() * 1_000_000)));
  await show('B4b 15 s');
  await load(opts(() => Math.floor(Math.random() * 10_000) * 100));
  await show('B4a 15 s');
  await new Promise((r) => setTimeout(r, 10_000));
  await show('idle +10 s');
} finally {
  stop(s.child);
}
