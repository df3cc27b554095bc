// Portcullis benchmark harness. Starts everything itself on 127.0.0.1, runs each
// scenario against its baseline measured in the same run, and prints one table.
//
//   npm run bench                 # all scenarios
//   npm run bench -- B1           # only B1 (also: B2)
//   DURATION=5 npm run bench      # seconds per measurement (default 10)
//
// Every load is bounded in time; every child process is killed at the end.
import autocannon from 'autocannon';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'cli.js');
const DURATION = Number(process.env.DURATION ?? 10);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 50);
const only = process.argv.slice(2).map((s) => s.toUpperCase());
const wanted = (name) => only.length === 0 || only.includes(name);
const children = new Set();
const rows = [];

function cleanup() {
  for (const c of children) c.kill('SIGKILL');
}
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));

/** Starts a child and resolves when `ready(line)` matches a line of its stdout (bounded). */
function start(cmd, args, opts, ready, timeoutMs = 20000) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')} did not start in ${timeoutMs} ms\n${err}`)), timeoutMs);
    child.stdout.on('data', (d) => {
      out += d;
      for (const line of out.split('\n')) {
        const m = ready(line);
        if (m !== undefined && m !== null && m !== false) {
          clearTimeout(timer);
          resolve({ child, match: m, output: () => out });
          return;
        }
      }
    });
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => {
      children.delete(child);
      clearTimeout(timer);
      reject(new Error(`${args.join(' ')} exited with ${code}\n${err}`));
    });
  });
}

function stop(child) {
  children.delete(child);
  child.kill('SIGKILL');
}

/** CPU time (user + system) of a process in µs, from /proc (clock ticks of 10 ms). */
function cpuMicros(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks * 10_000;
}

async function load(opts, pid) {
  const cpu0 = cpuMicros(pid);
  const result = await autocannon({ connections: CONNECTIONS, duration: DURATION, ...opts });
  const cpu1 = cpuMicros(pid);
  const n = result.requests.total;
  const bad = result.non2xx + result.errors + result.timeouts;
  if (bad > 0) throw new Error(`${opts.url}: ${bad} failed requests of ${n}`);
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, cpuUs: n ? (cpu1 - cpu0) / n : NaN, total: n };
}

async function startPortcullis(dataDir, env = {}) {
  const portFree = await freePort();
  const srv = await start(
    process.execPath,
    [cli, 'serve', '--plain-http', '--host', '127.0.0.1', '--port', String(portFree), '--data-dir', dataDir],
    { env: { ...process.env, PORTCULLIS_LOG_LEVEL: 'warn', ...env } },
    (line) => /serving on (http:\/\/\S+)/.exec(line)?.[1],
  );
  const password = /password: (\S+)/.exec(srv.output())?.[1];
  return { child: srv.child, url: srv.match, adminPassword: password };
}

async function freePort() {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function addUser(dataDir, name, password) {
  execFileSync(process.execPath, [cli, 'user', 'add', name, '--role', 'System Administrator', '--password-stdin', '--data-dir', dataDir], {
    input: password,
    env: { ...process.env, PORTCULLIS_LOG_LEVEL: 'warn' },
  });
}

async function hcxLogin(url, username, password) {
  const r = await fetch(`${url}/api/admin/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  if (r.status !== 200) throw new Error(`login failed: ${r.status}`);
  const token = r.headers.get('x-hm-authorization');
  const size = Number((await r.arrayBuffer()).byteLength);
  return { token, size };
}

const fmt = (n, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : '-');

async function b1(dataDir) {
  const pc = await startPortcullis(dataDir);
  try {
    addUser(dataDir, 'bench', 'bench-password-1');
    const { token, size } = await hcxLogin(pc.url, 'bench', 'bench-password-1');
    const probe = await fetch(`${pc.url}/api/admin/v1/sessions`, { headers: { 'x-hm-authorization': token } });
    const bodySize = (await probe.arrayBuffer()).byteLength;
    if (probe.status !== 200) throw new Error(`check failed: ${probe.status}`);
    const bare = await start(process.execPath, [join(root, 'bench', 'bare.mjs')], { env: { ...process.env, BODY_BYTES: String(bodySize) } }, (l) => (/^\d+$/.test(l) ? l : undefined));
    const bareUrl = `http://127.0.0.1:${bare.match}/api/admin/v1/sessions`;
    await load({ url: bareUrl, duration: 2 }, bare.child.pid); // warm-up
    const base = await load({ url: bareUrl }, bare.child.pid);
    stop(bare.child);
    const hcxUrl = `${pc.url}/api/admin/v1/sessions`;
    await load({ url: hcxUrl, headers: { 'x-hm-authorization': token }, duration: 2 }, pc.child.pid);
    const hcx = await load({ url: hcxUrl, headers: { 'x-hm-authorization': token } }, pc.child.pid);
    const lxca = await load({ url: `${pc.url}/sessions`, headers: { cookie: `JSESSIONID=${token}` } }, pc.child.pid);
    rows.push(['B1 check (HCX token) / bare', hcx.rps / base.rps, '>= 0.85', `${fmt(hcx.rps)} vs ${fmt(base.rps)} req/s; p50 ${hcx.p50}/${base.p50} ms; p99 ${hcx.p99}/${base.p99} ms; CPU ${fmt(hcx.cpuUs, 1)}/${fmt(base.cpuUs, 1)} µs/req`]);
    rows.push(['B1 check (LXCA cookie) / bare', lxca.rps / base.rps, '>= 0.85', `${fmt(lxca.rps)} req/s; p50 ${lxca.p50} ms; p99 ${lxca.p99} ms; CPU ${fmt(lxca.cpuUs, 1)} µs/req (body ${bodySize} B vs GET /sessions list)`]);
    rows.push(['B1 CPU per request bare / HCX', base.cpuUs / hcx.cpuUs, '', 'server CPU time per request, the measure that ignores the load generator']);
    void size;
  } finally {
    stop(pc.child);
  }
}

async function b2(dataDir) {
  const concurrency = Number(process.env.LOGIN_CONNECTIONS ?? 8);
  const rawOut = execFileSync(process.execPath, [join(root, 'bench', 'argon2-raw.mjs')], {
    env: { ...process.env, CONCURRENCY: String(concurrency), DURATION_MS: String(DURATION * 1000) },
    cwd: root,
  });
  const raw = JSON.parse(rawOut.toString());
  const pc = await startPortcullis(dataDir);
  try {
    addUser(dataDir, 'bench2', 'bench-password-2');
    const body = JSON.stringify({ username: 'bench2', password: 'bench-password-2' });
    const hcx = await load({ url: `${pc.url}/api/admin/v1/sessions`, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections: concurrency }, pc.child.pid);
    const lbody = JSON.stringify({ UserId: 'bench2', password: 'bench-password-2' });
    const lxca = await load({ url: `${pc.url}/sessions`, method: 'POST', headers: { 'content-type': 'application/json' }, body: lbody, connections: concurrency }, pc.child.pid);
    rows.push(['B2 HCX logins / raw argon2id verify', hcx.rps / raw.rate, '>= 0.90', `${fmt(hcx.rps, 1)} vs ${fmt(raw.rate, 1)} /s; p50 ${hcx.p50} ms, p99 ${hcx.p99} ms (raw p50 ${fmt(raw.p50, 1)} ms)`]);
    rows.push(['B2 LXCA logins / raw argon2id verify', lxca.rps / raw.rate, '>= 0.90', `${fmt(lxca.rps, 1)} /s; p50 ${lxca.p50} ms, p99 ${lxca.p99} ms`]);
  } finally {
    stop(pc.child);
  }
}

const scenarios = { B1: b1, B2: b2 };
const t0 = Date.now();
for (const [name, fn] of Object.entries(scenarios)) {
  if (!wanted(name)) continue;
  const dir = mkdtempSync(join(tmpdir(), `portcullis-bench-${name}-`));
  try {
    process.stderr.write(`running ${name}…\n`);
    await fn(dir);
  } catch (e) {
    rows.push([`${name} FAILED`, NaN, '', String(e.message ?? e).split('\n')[0]]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`\nPortcullis benchmarks — ${cpus().length} cores, Node ${process.version}, ${DURATION} s per load, ${CONNECTIONS} connections (checks)`);
const w = Math.max(...rows.map((r) => r[0].length));
console.log(`${'scenario'.padEnd(w)}  ratio  target   raw figures`);
for (const [name, ratio, target, detail] of rows) console.log(`${name.padEnd(w)}  ${fmt(ratio, 2).padStart(5)}  ${target.padEnd(7)}  ${detail}`);
console.log(`(${((Date.now() - t0) / 1000).toFixed(0)} s)`);
cleanup();
