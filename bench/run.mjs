// Portcullis benchmark harness. Starts everything itself on 127.0.0.1, runs each
// scenario against its baseline measured in the same run, and prints one table.
//
//   npm run bench                 # all scenarios
//   npm run bench -- B1 B4        # some of them (B1 B1M B2 B3 B4 B4R B6 B7 B8; B4R = B4 on PostgreSQL + Redis, as root)
//   DURATION=5 npm run bench      # seconds per measurement (default 10)
//   B4_SESSIONS=1000000           # stored sessions for B4's large case (default 1 000 000)
//
// Every load is bounded in time; every child process is killed at the end.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DURATION, PINNED, REPEATS, SERVER_CPU, cli, fmt, freePort, load, pinning, repeated, root, start, stop, threadCpu, withSpread } from './lib.mjs';
import { connect } from 'node:net';
import { b6 } from './cluster.mjs';
import { b7 } from './flood.mjs';
import { b8 } from './gateway.mjs';

const CONNECTIONS = Number(process.env.CONNECTIONS ?? 50);
const only = process.argv.slice(2).map((s) => s.toUpperCase());
const wanted = (name) => only.length === 0 || only.includes(name);
const rows = [];
const quietEnv = { ...process.env, PORTCULLIS_LOG_LEVEL: 'warn' };

async function startPortcullis(dataDir, env = {}, args = []) {
  // The benchmarks log one user in thousands of times: no per-user session limit.
  execFileSync(process.execPath, [cli, 'settings', 'set', 'MaxConcurrentSessions=0', '--data-dir', dataDir], { env: quietEnv, stdio: 'ignore' });
  const port = await freePort();
  const t0 = performance.now();
  const srv = await start(
    process.execPath,
    [cli, ...args, 'serve', '--plain-http', '--host', '127.0.0.1', '--port', String(port), '--data-dir', dataDir],
    { env: { ...quietEnv, ...env } },
    (line) => /serving on (http:\/\/\S+)/.exec(line)?.[1],
    60000,
  );
  return { child: srv.child, url: srv.match, startMs: performance.now() - t0 };
}

function addUser(dataDir, name, password) {
  execFileSync(process.execPath, [cli, 'user', 'add', name, '--role', 'System Administrator', '--password-stdin', '--data-dir', dataDir], {
    input: password,
    env: quietEnv,
  });
}

async function hcxLogin(url, username, password) {
  const r = await fetch(`${url}/api/admin/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  if (r.status !== 200) throw new Error(`login failed: ${r.status}`);
  await r.arrayBuffer();
  return r.headers.get('x-hm-authorization');
}

/** A Redfish session login: the X-Auth-Token and the session's URL (its Location). */
async function redfishLogin(url, username, password) {
  const r = await fetch(`${url}/redfish/v1/SessionService/Sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ UserName: username, Password: password }) });
  if (r.status !== 201) throw new Error(`Redfish login failed: ${r.status}`);
  await r.arrayBuffer();
  return { token: r.headers.get('x-auth-token'), url: `${url}${r.headers.get('location')}` };
}

/** How long this machine takes to start node and exit (the floor under any start time), median of 5. */
function nodeBootMs() {
  const t = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    execFileSync(process.execPath, ['-e', '0']);
    t.push(performance.now() - t0);
  }
  return t.sort((a, b) => a - b)[2];
}

function rssMiB(pid, field = 'VmRSS') {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** One raw HTTP/1.1 answer to a GET (status line, headers, body bytes), as a client receives it. */
function captureAnswer(url, headers) {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(u.port), u.hostname, () => {
      const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
      socket.write(`GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nConnection: close\r\n${lines}\r\n`);
    });
    const chunks = [];
    socket.on('data', (d) => chunks.push(d));
    socket.on('end', () => resolve(Buffer.concat(chunks)));
    socket.on('error', reject);
    socket.setTimeout(5000, () => socket.destroy(new Error('capture timed out')));
  });
}

/**
 * A check against a bare node:http server replaying the same answer byte for byte
 * (status, headers, body) to the same request (the same headers, the token among
 * them): the ratio of CPU µs per request (replay ÷ Portcullis, higher is better) is
 * what Portcullis itself costs, with req/s beside it. The two are loaded in turn,
 * bare then Portcullis, PAIRS times (B1_PAIRS, default 3 × REPEATS) in loads of
 * B1_SECONDS (default 2): this machine's speed drifts by tens of per cent within a
 * minute, and a ratio of two loads seconds apart holds still where loads minutes apart
 * do not. Reported: the median of the pairs' ratios and their spread.
 */
async function replayRatio(label, pc, url, headers, dataDir, target = '>= 0.90') {
  const captured = await captureAnswer(url, headers);
  if (!/^HTTP\/1\.1 200 /.test(captured.subarray(0, 16).toString('latin1'))) throw new Error(`${label}: the captured answer is not a 200`);
  const file = join(dataDir, `${label.replace(/\W+/g, '-')}.http`);
  writeFileSync(file, captured);
  const bare = await start(process.execPath, [join(root, 'bench', 'bare.mjs')], { env: { ...process.env, REPLAY_FILE: file } }, (l) => (/^\d+$/.test(l) ? l : undefined));
  try {
    const bareUrl = `http://127.0.0.1:${bare.match}${new URL(url).pathname}`;
    const seconds = Number(process.env.B1_SECONDS ?? 2);
    const pairs = Number(process.env.B1_PAIRS ?? 3 * REPEATS);
    await load({ url: bareUrl, connections: CONNECTIONS, headers, duration: 2 }, bare.child.pid);
    await load({ url, connections: CONNECTIONS, headers, duration: 2 }, pc.child.pid);
    const runs = [];
    for (let i = 0; i < pairs; i++) {
      const b = await load({ url: bareUrl, connections: CONNECTIONS, headers, duration: seconds }, bare.child.pid);
      const p = await load({ url, connections: CONNECTIONS, headers, duration: seconds }, pc.child.pid);
      runs.push({ ratio: b.cpuUs / p.cpuUs, bare: b, pc: p });
    }
    const med = (xs) => {
      const v = [...xs].sort((a, b) => a - b);
      return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    };
    const span = (xs) => [Math.min(...xs), Math.max(...xs)];
    const ratios = runs.map((r) => r.ratio);
    const pcCpu = runs.map((r) => r.pc.cpuUs);
    const bareCpu = runs.map((r) => r.bare.cpuUs);
    const pcRps = runs.map((r) => r.pc.rps);
    const bareRps = runs.map((r) => r.bare.rps);
    const bodyBytes = captured.length - captured.indexOf('\r\n\r\n') - 4;
    rows.push([
      `B1 ${label}: CPU µs/req replay-bare ÷ Portcullis (median of ${pairs} pairs)`,
      med(ratios),
      target,
      `pairs ${withSpread(med(ratios), span(ratios), 2)}; CPU ${withSpread(med(pcCpu), span(pcCpu))} vs bare ${withSpread(med(bareCpu), span(bareCpu))} µs/req; req/s ${withSpread(med(pcRps), span(pcRps), 0)} vs ${withSpread(med(bareRps), span(bareRps), 0)}; same request, same ${bodyBytes}-byte body and headers`,
    ]);
  } finally {
    stop(bare.child);
  }
}

async function b1(dataDir) {
  const pc = await startPortcullis(dataDir);
  try {
    addUser(dataDir, 'bench', 'bench-password-1');
    const token = await hcxLogin(pc.url, 'bench', 'bench-password-1');
    // The primary B1 figures: each dialect's check against a bare server replaying its own answer.
    await replayRatio('HCX check', pc, `${pc.url}/api/admin/v1/sessions`, { 'x-hm-authorization': token }, dataDir);
    const rfReplay = await redfishLogin(pc.url, 'bench', 'bench-password-1');
    await replayRatio('Redfish check', pc, rfReplay.url, { 'x-auth-token': rfReplay.token }, dataDir);
    await replayRatio('vCenter check', pc, `${pc.url}/api/session`, { 'vmware-api-session-id': token }, dataDir);
    const probe = await fetch(`${pc.url}/api/admin/v1/sessions`, { headers: { 'x-hm-authorization': token } });
    const bodySize = (await probe.arrayBuffer()).byteLength;
    if (probe.status !== 200) throw new Error(`check failed: ${probe.status}`);
    const bare = await start(process.execPath, [join(root, 'bench', 'bare.mjs')], { env: { ...process.env, BODY_BYTES: String(bodySize) } }, (l) => (/^\d+$/.test(l) ? l : undefined));
    const bareUrl = `http://127.0.0.1:${bare.match}/api/admin/v1/sessions`;
    await load({ url: bareUrl, connections: CONNECTIONS, duration: 2 }, bare.child.pid); // warm-up
    const base = await load({ url: bareUrl, connections: CONNECTIONS }, bare.child.pid);
    stop(bare.child);
    // The same bare server, also sending the security headers every Portcullis response carries: what they cost.
    const bareH = await start(process.execPath, [join(root, 'bench', 'bare.mjs')], { env: { ...process.env, BODY_BYTES: String(bodySize), SECURITY_HEADERS: '1' } }, (l) => (/^\d+$/.test(l) ? l : undefined));
    const bareHUrl = `http://127.0.0.1:${bareH.match}/api/admin/v1/sessions`;
    await load({ url: bareHUrl, connections: CONNECTIONS, duration: 2 }, bareH.child.pid);
    const baseH = await load({ url: bareHUrl, connections: CONNECTIONS }, bareH.child.pid);
    stop(bareH.child);
    const hcxUrl = `${pc.url}/api/admin/v1/sessions`;
    await load({ url: hcxUrl, connections: CONNECTIONS, headers: { 'x-hm-authorization': token }, duration: 2 }, pc.child.pid);
    const hcx = await load({ url: hcxUrl, connections: CONNECTIONS, headers: { 'x-hm-authorization': token } }, pc.child.pid);
    const lxca = await load({ url: `${pc.url}/sessions`, connections: CONNECTIONS, headers: { cookie: `JSESSIONID=${token}` } }, pc.child.pid);
    // Redfish: a GET of the own session with X-Auth-Token (what a Redfish client's keep-alive check does).
    const rf = await redfishLogin(pc.url, 'bench', 'bench-password-1');
    const rfProbe = await fetch(rf.url, { headers: { 'x-auth-token': rf.token } });
    const rfBody = (await rfProbe.arrayBuffer()).byteLength;
    if (rfProbe.status !== 200) throw new Error(`Redfish check failed: ${rfProbe.status}`);
    await load({ url: rf.url, connections: CONNECTIONS, headers: { 'x-auth-token': rf.token }, duration: 2 }, pc.child.pid);
    const redfish = await load({ url: rf.url, connections: CONNECTIONS, headers: { 'x-auth-token': rf.token } }, pc.child.pid);
    rows.push(['B1 check (HCX token) / bare', hcx.rps / base.rps, '>= 0.85', `${fmt(hcx.rps)} vs ${fmt(base.rps)} req/s; p50 ${hcx.p50}/${base.p50} ms; p99 ${hcx.p99}/${base.p99} ms; CPU ${fmt(hcx.cpuUs, 1)}/${fmt(base.cpuUs, 1)} µs/req`]);
    rows.push(['B1 check (LXCA cookie) / bare', lxca.rps / base.rps, '>= 0.85', `${fmt(lxca.rps)} req/s; p50 ${lxca.p50} ms; p99 ${lxca.p99} ms; CPU ${fmt(lxca.cpuUs, 1)} µs/req (GET /sessions: a list query, body ${bodySize} B on HCX)`]);
    rows.push(['B1 check (Redfish X-Auth-Token) / bare', redfish.rps / base.rps, '', `${fmt(redfish.rps)} req/s; p50 ${redfish.p50} ms; p99 ${redfish.p99} ms; CPU ${fmt(redfish.cpuUs, 1)} µs/req (GET of the own Session, body ${rfBody} B, on the fast path)`]);
    // vCenter's check, GET /api/session, with the same token as vmware-api-session-id (one session store).
    const vcUrl = `${pc.url}/api/session`;
    const vcProbe = await fetch(vcUrl, { headers: { 'vmware-api-session-id': token } });
    const vcBytes = (await vcProbe.arrayBuffer()).byteLength;
    if (vcProbe.status !== 200) throw new Error(`vCenter check failed: ${vcProbe.status}`);
    const vc = await load({ url: vcUrl, connections: CONNECTIONS, headers: { 'vmware-api-session-id': token } }, pc.child.pid);
    rows.push(['B1 check (vCenter session id) / bare', vc.rps / base.rps, '>= 0.85', `${fmt(vc.rps)} req/s; p50 ${vc.p50} ms; p99 ${vc.p99} ms; CPU ${fmt(vc.cpuUs, 1)} µs/req (GET /api/session, body ${vcBytes} B; bare sends ${bodySize} B)`]);
    rows.push(['B1 CPU per request bare / HCX', base.cpuUs / hcx.cpuUs, '', 'server CPU time per request, the measure that ignores the load generator']);
    rows.push([
      'B1 check (HCX) / bare with the security headers',
      hcx.rps / baseH.rps,
      '',
      `bare + the 6 security headers: ${fmt(baseH.rps)} req/s (${fmt(baseH.rps / base.rps, 2)} of bare), CPU ${fmt(baseH.cpuUs, 1)} µs/req; HCX CPU ratio ${fmt(baseH.cpuUs / hcx.cpuUs, 2)}`,
    ]);
  } finally {
    stop(pc.child);
  }
}

async function b2(dataDir) {
  const concurrency = Number(process.env.LOGIN_CONNECTIONS ?? 8);
  const rawRun = () =>
    JSON.parse(
      // On the servers' core, as the logins' server is (this process sits on the load generator's).
      execFileSync(PINNED ? 'taskset' : process.execPath, [...(PINNED ? ['-c', SERVER_CPU, process.execPath] : []), join(root, 'bench', 'argon2-raw.mjs')], {
        // As many hashing threads as Portcullis verifies on (one per core, at least 2): the same parallelism.
        env: { ...process.env, UV_THREADPOOL_SIZE: String(Math.max(2, cpus().length)), CONCURRENCY: String(concurrency), DURATION_MS: String(DURATION * 1000) },
        cwd: root,
      }).toString(),
    );
  const pc = await startPortcullis(dataDir);
  try {
    addUser(dataDir, 'bench2', 'bench-password-2');
    // A known client (it logged in from here before): its 8 parallel logins are not held to a new source's 4.
    await hcxLogin(pc.url, 'bench2', 'bench-password-2');
    const post = { method: 'POST', headers: { 'content-type': 'application/json' }, connections: concurrency };
    // Each run: the raw ceiling, then the logins, back to back (drift on a shared machine falls on both).
    const runs = [];
    for (let i = 0; i < REPEATS; i++) {
      const raw = rawRun();
      const before = threadCpu(pc.child.pid);
      const hcx = await load({ url: `${pc.url}/api/admin/v1/sessions`, ...post, body: JSON.stringify({ username: 'bench2', password: 'bench-password-2' }) }, pc.child.pid);
      hcx.split = loginCpuSplit(pc.child.pid, before, threadCpu(pc.child.pid), hcx.total);
      runs.push({ raw, hcx, ratio: hcx.rps / raw.rate });
      process.stderr.write(`  B2 run ${i + 1}: ${fmt(hcx.rps, 1)} logins/s vs raw ${fmt(raw.rate, 1)} verifies/s = ${fmt(hcx.rps / raw.rate, 3)}\n`);
    }
    const ratios = runs.map((r) => r.ratio).sort((a, b) => a - b);
    const med = ratios[Math.floor(ratios.length / 2)];
    const m = runs.find((r) => r.ratio === med);
    rows.push([
      `B2 HCX logins / raw argon2id verify (median of ${REPEATS})`,
      med,
      '>= 0.90',
      `each run ${runs.map((r) => fmt(r.ratio, 2)).join(', ')} (min ${fmt(ratios[0], 2)}); median run ${fmt(m.hcx.rps, 1)} vs ${fmt(m.raw.rate, 1)} /s; p50 ${m.hcx.p50} ms, p99 ${m.hcx.p99} ms (raw p50 ${fmt(m.raw.p50, 1)} ms); ${concurrency} at once; ` +
        `CPU per login: event loop ${fmt(m.hcx.split.loop, 2)} ms + other threads (hashing) ${fmt(m.hcx.split.others, 2)} ms, vs raw ${fmt(m.raw.cpuMs, 2)} ms per verify`,
    ]);
    const raw = rawRun();
    const lxca = await load({ url: `${pc.url}/sessions`, ...post, body: JSON.stringify({ UserId: 'bench2', password: 'bench-password-2' }) }, pc.child.pid);
    rows.push(['B2 LXCA logins / raw argon2id verify', lxca.rps / raw.rate, '>= 0.90', `${fmt(lxca.rps, 1)} vs ${fmt(raw.rate, 1)} /s; p50 ${lxca.p50} ms, p99 ${lxca.p99} ms`]);
  } finally {
    stop(pc.child);
  }
}

/** A load's CPU per login, ms: the event loop's thread (tid = pid) and every other thread (hashing, libuv), from /proc. */
function loginCpuSplit(pid, before, after, logins) {
  let loop = 0;
  let others = 0;
  for (const [tid, [u, s]] of Object.entries(after)) {
    const [u0, s0] = before[tid] ?? [0, 0];
    const d = u - u0 + (s - s0);
    if (tid === String(pid)) loop += d;
    else others += d;
  }
  return { loop: loop / 1000 / logins, others: others / 1000 / logins };
}

async function b3(dataDir) {
  // Every client here is 127.0.0.1: the storm's 64 connections and the checkers' 20 stand for many
  // addresses, so the per-source connection cap (64, the flood defence's) is lifted.
  const configFile = join(dataDir, 'b3.yaml');
  writeFileSync(configFile, 'flood: { connectionsPerSource: 0 }\n');
  const pc = await startPortcullis(dataDir, {}, ['--config', configFile]);
  try {
    addUser(dataDir, 'bench3', 'bench-password-3');
    const token = await hcxLogin(pc.url, 'bench3', 'bench-password-3');
    const checkOpts = { url: `${pc.url}/api/admin/v1/sessions`, connections: 20, headers: { 'x-hm-authorization': token } };
    const quiet = await load(checkOpts);
    const storm = load(
      {
        url: `${pc.url}/api/admin/v1/sessions`,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'bench3', password: 'bench-password-3' }),
        connections: 64,
        duration: DURATION + 1,
        allowNon2xx: true,
      },
      undefined,
    );
    await new Promise((r) => setTimeout(r, 500));
    const during = await load(checkOpts);
    const logins = await storm;
    rows.push(['B3 check p99 during login storm (ms)', during.p99, '<= 10', `checks ${fmt(during.rps)} req/s (quiet ${fmt(quiet.rps)}, p99 ${quiet.p99} ms); p50 ${during.p50} ms`]);
    rows.push(['B3 logins during the storm /s', logins.rps, '', `64 connections; p99 ${logins.p99} ms; refused (non-2xx) ${logins.non2xx} of ${logins.total}`]);

    // The same storm from clients that honour Retry-After, as real ones do (autocannon re-sends at once).
    const polite = politeStorm(`${pc.url}/api/admin/v1/sessions`, JSON.stringify({ username: 'bench3', password: 'bench-password-3' }), 64, (DURATION + 1) * 1000);
    await new Promise((r) => setTimeout(r, 500));
    const duringPolite = await load(checkOpts);
    const p = await polite;
    rows.push([
      'B3 check p99, storm honouring Retry-After (ms)',
      duringPolite.p99,
      '<= 10',
      `checks ${fmt(duringPolite.rps)} req/s; p50 ${duringPolite.p50} ms; logins ${fmt(p.ok / p.seconds)} /s admitted, ${p.refused} refused (503) of ${p.ok + p.refused + p.other}`,
    ]);
  } finally {
    stop(pc.child);
  }
}

/** `clients` loops logging in for `ms`; a 503 makes that client wait its Retry-After. Bounded in time. */
async function politeStorm(url, body, clients, ms) {
  const until = Date.now() + ms;
  const out = { ok: 0, refused: 0, other: 0, seconds: ms / 1000 };
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (Date.now() < until) {
        const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(10_000) }).catch(() => undefined);
        if (!r) {
          out.other++;
          continue;
        }
        await r.arrayBuffer();
        if (r.status === 200) out.ok++;
        else if (r.status === 503) {
          out.refused++;
          const wait = Math.min(Number(r.headers.get('retry-after')) || 1, 5) * 1000;
          await new Promise((res) => setTimeout(res, Math.min(wait, Math.max(0, until - Date.now()))));
        } else out.other++;
      }
    }),
  );
  return out;
}

/** Writes `n` sessions straight into the store (a million logins would take hours of hashing). */
function seedSessions(dataDir, n) {
  const script = `
    const { SqliteStore } = await import(${JSON.stringify(join(root, 'dist', 'adapters', 'store', 'sqlite', 'store.js'))});
    const { createHash, randomBytes } = await import('node:crypto');
    const store = new SqliteStore({ path: ${JSON.stringify(join(dataDir, 'portcullis.db'))}, touchFlushMs: 0, hotSessions: 0 });
    const ins = store.db.prepare(\`INSERT INTO sessions (id, token_hash, csrf, username, roles, organizations, enterprise, must_change_password,
      created_at, last_accessed_at, idle_timeout_ms, expires_at, client_address, auth_source, auth_server, dialect)
      VALUES (?, ?, 'csrf', ?, '["System Administrator"]', '["DEFAULT"]', 'HybridityAdmin', 0, ?, ?, 0, ?, '127.0.0.1', 'local', '127.0.0.1', 'hcx')\`);
    const now = Date.now();
    const seed = ${JSON.stringify(randomBytes(16).toString('hex'))};
    store.db.pragma('synchronous = OFF');
    const batch = store.db.transaction((from, to) => {
      for (let i = from; i < to; i++) {
        const token = createHash('sha256').update(seed + i).digest('base64url');
        ins.run('s' + i, createHash('sha256').update(token, 'latin1').digest(), 'user' + (i % 1000), now - 3600000, now - 3600000, now + 86400000);
      }
    });
    for (let i = 0; i < ${n}; i += 50000) batch(i, Math.min(${n}, i + 50000));
    store.close();
    process.stdout.write(seed);
  `;
  const seed = execFileSync(process.execPath, ['--input-type=module', '-e', script], { maxBuffer: 1 << 20 }).toString();
  // The file was written without fsync: its ~270 MB (at 1 M) go to disk now, not while the servers are measured.
  try {
    execFileSync('sync', { stdio: 'ignore' });
  } catch {
    // no sync(1): the kernel writes them back in its own time
  }
  return seed;
}

function tokenOf(seed, i) {
  return createHash('sha256').update(seed + i).digest('base64url');
}

/** Token index pickers for B4: uniform over an active set spread across the stored sessions, Zipf over it, or uniform over all. */
function activeSet(n, active) {
  const stride = Math.max(1, Math.floor(n / active));
  return (k) => (k * stride) % n;
}
function uniformPicker(n, active) {
  const at = activeSet(n, active);
  return () => at(Math.floor(Math.random() * active));
}
/** Zipf (s = 1) over the active set: rank r is picked with probability ∝ 1/r. */
function zipfPicker(n, active) {
  const at = activeSet(n, active);
  const cdf = new Float64Array(active);
  let sum = 0;
  for (let r = 0; r < active; r++) cdf[r] = sum += 1 / (r + 1);
  return () => {
    const u = Math.random() * sum;
    let lo = 0;
    let hi = active - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return at(lo);
  };
}

/**
 * One stored-session count: seeds `n` sessions (last accessed an hour ago, so each
 * check is the first in a long time for its session), serves them, and runs one
 * load per picker (REPEATS each, medians). Then RSS, and start to first request
 * after a clean start and after kill -9.
 */
async function b4Case(dataDir, n, pickers, env = {}, seeded = undefined) {
  const seed = seeded ?? seedSessions(dataDir, n);
  const pc = await startPortcullis(dataDir, env);
  const out = { seed, startMs: pc.startMs, loads: {} };
  try {
    const url = `${pc.url}/api/admin/v1/sessions`;
    for (const [name, pick] of Object.entries(pickers)) {
      const opts = {
        url,
        connections: CONNECTIONS,
        requests: [{ setupRequest: (req) => ({ ...req, headers: { ...req.headers, 'x-hm-authorization': tokenOf(seed, pick()) } }) }],
      };
      await load({ ...opts, duration: 2 });
      out.loads[name] = await repeated(() => load(opts, pc.child.pid));
      process.stderr.write(`  B4 ${n} stored, ${name}: ${fmt(out.loads[name].cpuUs, 1)} µs/req, ${fmt(out.loads[name].rps)} req/s\n`);
    }
    out.rss = rssMiB(pc.child.pid);
    // Anonymous memory (heaps, SQLite's page cache) and mapped files (node's own binary and libraries, mostly).
    out.rssAnon = rssMiB(pc.child.pid, 'RssAnon');
    out.rssFile = rssMiB(pc.child.pid, 'RssFile');
    // Time to first served request after kill -9 (stop() is SIGKILL).
    stop(pc.child);
    const again = await startPortcullis(dataDir, env);
    out.afterKill = again.startMs;
    const probe = await fetch(`${again.url}/api/admin/v1/sessions`, { headers: { 'x-hm-authorization': tokenOf(seed, 0) } });
    await probe.arrayBuffer();
    if (probe.status !== 200) throw new Error(`session lost across kill -9: ${probe.status}`);
    stop(again.child);
    return out;
  } finally {
    stop(pc.child);
  }
}

/**
 * B4: both servers run at once (10 k stored and 1 M stored, the defaults), and each
 * ratio is a median over pairs of short loads taken in turn, small then large
 * (B4_PAIRS, default 3 × REPEATS, of B4_SECONDS, default 2): the machine drifts by
 * more between loads minutes apart than the ratios it is to tell apart. Then RSS and
 * start (after a clean start and after kill -9), and the memory levers on the same file.
 */
async function b4(dataDir) {
  const big = Number(process.env.B4_SESSIONS ?? 1_000_000);
  const active = Number(process.env.B4_ACTIVE ?? 10_000);
  const pairs = Number(process.env.B4_PAIRS ?? 3 * REPEATS);
  const seconds = Number(process.env.B4_SECONDS ?? 2);
  const smallDir = join(dataDir, 'small');
  const largeDir = join(dataDir, 'large');
  const smallSeed = seedSessions(smallDir, active);
  const largeSeed = seedSessions(largeDir, big);
  const small = await startPortcullis(smallDir);
  // The small server's work deferred past its start (validators compiled in the background, the first session
  // count) runs on the servers' core: the large server's start (B4c) is measured once it is done.
  await new Promise((r) => setTimeout(r, 2000));
  const large = await startPortcullis(largeDir);
  const largeStartMs = large.startMs;
  const cases = [
    ['uniform', uniformPicker(active, active), uniformPicker(big, active)],
    ['zipf', zipfPicker(active, active), zipfPicker(big, active)],
    ['all', uniformPicker(active, active), uniformPicker(big, big)],
  ];
  const opts = (srv, seed, pick, duration) => ({
    url: `${srv.url}/api/admin/v1/sessions`,
    connections: CONNECTIONS,
    duration,
    requests: [{ setupRequest: (req) => ({ ...req, headers: { ...req.headers, 'x-hm-authorization': tokenOf(seed, pick()) } }) }],
  });
  const med = (xs) => {
    const v = [...xs].sort((a, b) => a - b);
    return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  };
  const span = (xs) => [Math.min(...xs), Math.max(...xs)];
  const out = {};
  let rss, rssAnon, rssFile, afterKill;
  try {
    for (const [name, smallPick, largePick] of cases) {
      await load(opts(small, smallSeed, smallPick, 2));
      await load(opts(large, largeSeed, largePick, 2));
      const runs = [];
      for (let i = 0; i < pairs; i++) {
        const a = await load(opts(small, smallSeed, smallPick, seconds), small.child.pid);
        const b = await load(opts(large, largeSeed, largePick, seconds), large.child.pid);
        runs.push({ ratio: a.cpuUs / b.cpuUs, small: a, large: b });
      }
      out[name] = runs;
      process.stderr.write(`  B4 ${name}: pairs ${runs.map((r) => fmt(r.ratio, 2)).join(' ')}\n`);
    }
    rss = rssMiB(large.child.pid);
    rssAnon = rssMiB(large.child.pid, 'RssAnon');
    rssFile = rssMiB(large.child.pid, 'RssFile');
  } finally {
    stop(small.child);
    stop(large.child); // kill -9
  }
  const again = await startPortcullis(largeDir);
  try {
    afterKill = again.startMs;
    const probe = await fetch(`${again.url}/api/admin/v1/sessions`, { headers: { 'x-hm-authorization': tokenOf(largeSeed, 0) } });
    await probe.arrayBuffer();
    if (probe.status !== 200) throw new Error(`session lost across kill -9: ${probe.status}`);
  } finally {
    stop(again.child);
  }
  // The memory levers (B4c): fewer malloc arenas (argon2's threads each grow one) and a smaller young generation.
  const levers = process.env.B4_LEVERS ?? 'MALLOC_ARENA_MAX=2 NODE_OPTIONS=--max-semi-space-size=2';
  const leverEnv = Object.fromEntries(levers.split(/\s+/).filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  const lever = await b4Case(largeDir, big, { uniform: uniformPicker(big, active) }, leverEnv, largeSeed);

  const row = (label, runs, target, note = '') => {
    const ratios = runs.map((r) => r.ratio);
    const l = runs.map((r) => r.large.cpuUs);
    const sm = runs.map((r) => r.small.cpuUs);
    const p99 = runs.map((r) => r.large.p99);
    rows.push([label, med(ratios), target, `pairs ${withSpread(med(ratios), span(ratios), 2)}; CPU ${withSpread(med(l), span(l))} vs ${withSpread(med(sm), span(sm))} µs/req; p99 ${fmt(med(p99))} ms (${pairs} pairs of ${seconds} s)${note}`]);
  };
  row(`B4a ${active} active of ${big} stored / of ${active} stored, uniform (CPU, paired)`, out.uniform, '>= 0.95');
  row(`B4a the same, Zipf s=1 (CPU, paired)`, out.zipf, '>= 0.95');
  row(`B4b uniform over all ${big} / ${active} stored uniform (CPU, paired)`, out.all, '>= 0.70', '; every check the first for its session in an hour');
  rows.push([`B4c resident memory at ${big} sessions, defaults (MiB)`, rss, '<= 200', `anon ${fmt(rssAnon)} + files ${fmt(rssFile)} MiB, after the loads; with ${levers}: ${fmt(lever.rss)} MiB (anon ${fmt(lever.rssAnon)}), uniform CPU there ${fmt(lever.loads.uniform.cpuUs, 1)} µs/req`]);
  rows.push([`B4c start to first request, ${big} sessions, defaults (ms)`, largeStartMs, '<= 500', `after kill -9: ${fmt(afterKill)} ms; with the levers ${fmt(lever.startMs)} / ${fmt(lever.afterKill)} ms (spawning node and printing the URL included; \`node -e 0\` alone: ${fmt(nodeBootMs())} ms)`]);
}

/**
 * B4 on PostgreSQL + Redis (one node): the same stored counts and pickers as B4, the
 * sessions written straight into Redis through the store (a million logins would take
 * hours of hashing). Node CPU per check is the figure; Redis's and PostgreSQL's own CPU
 * are not in it (they are other processes, on the same two cores).
 */
async function seedRedis(url, n) {
  const { RedisStore } = await import(pathToFileURL(join(root, 'dist', 'adapters', 'store', 'redis', 'store.js')).href);
  const store = await RedisStore.open({ url, touchFlushMs: 0, cacheMs: 0, commandTimeoutMs: 30_000 });
  const seed = randomBytes(16).toString('hex');
  const now = Date.now();
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const token = tokenOf(seed, i);
      await store.createSession({
        id: `s${i}`, tokenHash: createHash('sha256').update(token, 'latin1').digest(), csrf: 'csrf', username: `local:user${i % 1000}`,
        roles: ['System Administrator'], organizations: ['DEFAULT'], enterprise: 'HybridityAdmin', mustChangePassword: false,
        createdAt: now - 3600000, lastAccessedAt: now - 3600000, idleTimeoutMs: 0, expiresAt: now + 86400000,
        clientAddress: '127.0.0.1', authSource: 'local', authServer: '127.0.0.1', dialect: 'hcx',
      });
    }
  };
  await Promise.all(Array.from({ length: 256 }, worker));
  await store.close();
  return seed;
}

async function b4Shared(dataDir) {
  const serversLib = join(root, 'build', 'test', 'servers.js');
  if (!existsSync(serversLib)) throw new Error('build/test is missing: run `npx tsc -p tsconfig.test.json` (npm run bench does)');
  const { startPostgres, startRedis, havePostgres, haveRedis } = await import(pathToFileURL(serversLib).href);
  const why = havePostgres() ?? haveRedis();
  if (why) throw new Error(why);
  const big = Number(process.env.B4_SESSIONS ?? 1_000_000);
  const active = Number(process.env.B4_ACTIVE ?? 10_000);
  const pg = await startPostgres();
  const redis = await startRedis();
  try {
    const one = async (name, n, pickers) => {
      const dir = join(dataDir, name);
      mkdirSync(dir, { recursive: true });
      const redisUrl = await redis.newDatabase();
      const configFile = join(dir, 'portcullis.json');
      writeFileSync(configFile, JSON.stringify({ store: 'postgres', sessions: 'redis', postgres: { url: await pg.newDatabase() }, redis: { url: redisUrl }, accountSettings: { MaxConcurrentSessions: 0 }, log: { level: 'warn' } }));
      const t0 = performance.now();
      const seed = await seedRedis(redisUrl, n);
      process.stderr.write(`  B4 shared: ${n} sessions seeded in ${fmt((performance.now() - t0) / 1000)} s\n`);
      const pc = await startPortcullis(dir, {}, ['--config', configFile]);
      const out = {};
      try {
        const url = `${pc.url}/api/admin/v1/sessions`;
        for (const [k, pick] of Object.entries(pickers)) {
          const opts = { url, connections: CONNECTIONS, requests: [{ setupRequest: (req) => ({ ...req, headers: { ...req.headers, 'x-hm-authorization': tokenOf(seed, pick()) } }) }] };
          await load({ ...opts, duration: 2 });
          out[k] = await repeated(() => load(opts, pc.child.pid));
          process.stderr.write(`  B4 shared ${n} stored, ${k}: ${fmt(out[k].cpuUs, 1)} µs/req, ${fmt(out[k].rps)} req/s\n`);
        }
        out.rss = rssMiB(pc.child.pid);
      } finally {
        stop(pc.child);
      }
      return out;
    };
    const small = await one('small', active, { uniform: uniformPicker(active, active), zipf: zipfPicker(active, active) });
    const large = await one('large', big, { uniform: uniformPicker(big, active), zipf: zipfPicker(big, active), all: uniformPicker(big, big) });
    const ratio = (a, b) => b.cpuUs / a.cpuUs;
    const cpu = (l) => `node CPU ${withSpread(l.cpuUs, l.spread.cpuUs)} µs/req, ${fmt(l.rps)} req/s, p99 ${l.p99} ms`;
    rows.push([`B4a on PostgreSQL + Redis: ${active} active of ${big} / of ${active} stored, uniform`, ratio(large.uniform, small.uniform), 'report', `${cpu(large.uniform)} vs ${cpu(small.uniform)}`]);
    rows.push([`B4a on PostgreSQL + Redis, Zipf s=1`, ratio(large.zipf, small.zipf), 'report', `${cpu(large.zipf)} vs ${cpu(small.zipf)}`]);
    rows.push([`B4b on PostgreSQL + Redis: uniform over all ${big} / ${active} stored`, ratio(large.all, small.uniform), 'report', `${cpu(large.all)}; node RSS ${fmt(large.rss)} MiB`]);
  } finally {
    await Promise.all([pg.destroy(), redis.destroy()]);
  }
}

/**
 * B1M: what the metrics cost a session check. The same data directory served with
 * metrics off and on, alternately (off, on, off, on: drift on a shared machine
 * falls on both), one scrape in the middle of each "on" load as Prometheus would;
 * the figure is server CPU µs per check, on / off.
 */
async function b1m(dataDir) {
  addUser(dataDir, 'bench', 'bench-password-1');
  const configFile = join(dataDir, 'metrics.yaml');
  const metricsPort = await freePort();
  writeFileSync(configFile, `metrics: { enabled: true, host: 127.0.0.1, port: ${metricsPort} }\n`);
  const runs = { off: [], on: [] };
  for (const mode of ['off', 'on', 'off', 'on']) {
    const pc = await startPortcullis(dataDir, {}, mode === 'on' ? ['--config', configFile] : []);
    try {
      const token = await hcxLogin(pc.url, 'bench', 'bench-password-1');
      const url = `${pc.url}/api/admin/v1/sessions`;
      const headers = { 'x-hm-authorization': token };
      await load({ url, connections: CONNECTIONS, headers, duration: 2 }, pc.child.pid);
      let scraped = 0;
      const scrape = mode === 'on' ? setTimeout(async () => (scraped = (await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()).length), (DURATION * 1000) / 2) : undefined;
      runs[mode].push(await load({ url, connections: CONNECTIONS, headers }, pc.child.pid));
      clearTimeout(scrape);
      if (mode === 'on' && scraped === 0) throw new Error('the metrics were not scraped during the load');
    } finally {
      stop(pc.child);
      await new Promise((r) => setTimeout(r, 300));
    }
  }
  const mean = (l, k) => l.reduce((a, r) => a + r[k], 0) / l.length;
  const off = { cpuUs: mean(runs.off, 'cpuUs'), rps: mean(runs.off, 'rps') };
  const on = { cpuUs: mean(runs.on, 'cpuUs'), rps: mean(runs.on, 'rps') };
  rows.push([
    'B1M check CPU µs, metrics on / off',
    on.cpuUs / off.cpuUs,
    '<= 1.03',
    `${fmt(on.cpuUs, 1)} vs ${fmt(off.cpuUs, 1)} µs/req (runs: off ${runs.off.map((r) => fmt(r.cpuUs, 1)).join(', ')}; on ${runs.on.map((r) => fmt(r.cpuUs, 1)).join(', ')}); ${fmt(on.rps)} vs ${fmt(off.rps)} req/s`,
  ]);
}

// B6 (two nodes on PostgreSQL + Redis) needs the test helpers built (npm run bench builds them) and runs as root.
const scenarios = { B1: b1, B1M: b1m, B2: b2, B3: b3, B4: b4, B4R: b4Shared, B6: (dir) => b6(rows, dir), B7: (dir) => b7(rows, dir), B8: (dir) => b8(rows, dir) };
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

console.log(`\nPortcullis benchmarks — ${cpus().length} cores, Node ${process.version}, ${DURATION} s per load, ${CONNECTIONS} connections (checks); ${pinning}`);
const w = Math.max(...rows.map((r) => r[0].length));
console.log(`${'scenario'.padEnd(w)}  ratio  target   raw figures`);
for (const [name, ratio, target, detail] of rows) console.log(`${name.padEnd(w)}  ${fmt(ratio, 2).padStart(7)}  ${target.padEnd(7)}  ${detail}`);
console.log(`(${((Date.now() - t0) / 1000).toFixed(0)} s)`);
process.exit(rows.some((r) => r[0].endsWith('FAILED')) ? 1 : 0);
