// B8: the forward-auth check, the hottest path of an appliance.
//
//   nginx -> Portcullis auth (/portcullis/auth/request) -> upstream
//   against
//   nginx -> upstream (no auth)
//
// same run, same upstream (bench/bare.mjs), keep-alive on every leg (the nginx file
// is exactly what `portcullis proxy-config nginx` prints; the unauthenticated one is
// the same file without its auth_request line). Also Portcullis's CPU µs per
// forward-auth check against its CPU µs per HCX check (B1's check), both loaded
// directly on Portcullis in the same run.
//
//   node bench/gateway.mjs              # DURATION=10 s per load; CONNECTIONS=50
//   node bench/run.mjs B8               # the same inside the harness
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PINNED, SERVER_CPU, cli, fmt, freePort, load, pinning, root, start, stop } from './lib.mjs';

const CONNECTIONS = Number(process.env.CONNECTIONS ?? 50);
const quietEnv = { ...process.env, PORTCULLIS_LOG_LEVEL: 'warn' };

/** Starts nginx in the foreground (the config says daemon off) and waits until its port answers. */
async function startNginx(dir, text, port) {
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, 'nginx.conf'), text);
  // On the servers' core with Portcullis and the upstream when the harness pins (the load generator has the other).
  const args = ['-p', dir, '-c', join(dir, 'nginx.conf')];
  const child = spawn(PINNED ? 'taskset' : 'nginx', PINNED ? ['-c', SERVER_CPU, 'nginx', ...args] : args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  for (let i = 0; i < 400; i++) {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${err}`);
    try {
      await (await fetch(`http://127.0.0.1:${port}/portcullis/auth/probe`)).arrayBuffer();
      return child;
    } catch {
      await new Promise((res) => setTimeout(res, 25));
    }
  }
  child.kill('SIGTERM');
  throw new Error(`nginx did not listen on ${port}: ${err}`);
}

/** SIGTERM to the master (its workers stop with it), bounded. */
async function stopNginx(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((res) => child.once('exit', res));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
}

export async function b8(rows, dataDir) {
  if (spawnSync('nginx', ['-v']).error) throw new Error('nginx is not installed (bash scripts/check.sh installs it)');
  execFileSync(process.execPath, [cli, 'settings', 'set', 'MaxConcurrentSessions=0', '--data-dir', dataDir], { env: quietEnv, stdio: 'ignore' });
  execFileSync(process.execPath, [cli, 'user', 'add', 'bench8', '--role', 'System Administrator', '--password-stdin', '--data-dir', dataDir], { input: 'bench-password-8', env: quietEnv });
  const pcPort = await freePort();
  const pc = await start(
    process.execPath,
    [cli, 'serve', '--plain-http', '--host', '127.0.0.1', '--port', String(pcPort), '--data-dir', dataDir],
    { env: quietEnv },
    (line) => /serving on (http:\/\/\S+)/.exec(line)?.[1],
    60000,
  );
  const children = [pc.child];
  const nginxes = [];
  try {
    const login = await fetch(`${pc.match}/api/admin/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'bench8', password: 'bench-password-8' }) });
    if (login.status !== 200) throw new Error(`login failed: ${login.status}`);
    await login.arrayBuffer();
    const token = login.headers.get('x-hm-authorization');
    const auth = { 'x-hm-authorization': token };

    const up = await start(process.execPath, [join(root, 'bench', 'bare.mjs')], { env: { ...process.env, BODY_BYTES: '400' } }, (l) => (/^\d+$/.test(l) ? l : undefined));
    children.push(up.child);
    const upstream = `http://127.0.0.1:${up.match}`;

    const withPort = await freePort();
    const withText = execFileSync(process.execPath, [cli, 'proxy-config', 'nginx', '--listen', `127.0.0.1:${withPort}`, '--upstream', upstream, '--portcullis', pc.match], { env: quietEnv, encoding: 'utf8' });
    // The baseline: the same file without the check (only the auth_request line goes; what reads its answer stays, empty).
    const plainPort = await freePort();
    const plainText = withText
      .replace(`listen 127.0.0.1:${withPort};`, `listen 127.0.0.1:${plainPort};`)
      .split('\n')
      .filter((l) => !/^\s*auth_request \//.test(l))
      .join('\n');
    const tmp = join(dataDir, 'nginx');
    const withDir = join(tmp, 'auth');
    const plainDir = join(tmp, 'plain');
    nginxes.push(await startNginx(withDir, withText, withPort));
    nginxes.push(await startNginx(plainDir, plainText, plainPort));

    const probe = await fetch(`http://127.0.0.1:${withPort}/inventory`, { headers: auth });
    await probe.arrayBuffer();
    if (probe.status !== 200) throw new Error(`through nginx with auth: ${probe.status}`);

    const target = (port) => ({ url: `http://127.0.0.1:${port}/inventory`, connections: CONNECTIONS, headers: auth });
    await load({ ...target(plainPort), duration: 2 });
    await load({ ...target(withPort), duration: 2 }, pc.child.pid);
    // Alternating rounds (ROUNDS, default 2), so that a burst of load from elsewhere on a shared machine hits both sides.
    const rounds = Number(process.env.ROUNDS ?? 2);
    const plainRuns = [];
    const authRuns = [];
    for (let i = 0; i < rounds; i++) {
      plainRuns.push(await load(target(plainPort)));
      authRuns.push(await load(target(withPort), pc.child.pid));
    }
    const mean = (runs, k) => runs.reduce((a, r) => a + r[k], 0) / runs.length;
    const summary = (runs) => ({ rps: mean(runs, 'rps'), p50: mean(runs, 'p50'), p99: mean(runs, 'p99'), cpuUs: mean(runs, 'cpuUs'), each: runs.map((r) => fmt(r.rps)).join('/') });
    const plain = summary(plainRuns);
    const withAuth = summary(authRuns);

    // Portcullis alone: CPU per forward-auth check against CPU per HCX check (B1), same process, same run.
    // nginx goes first: its idle upstream connections are 127.0.0.1's too, and with this load's they would pass the
    // per-source connection cap (64; the flood defence), which then closes the newest (autocannon counted 1160 errors).
    for (const n of nginxes.splice(0)) await stopNginx(n);
    const direct = { connections: CONNECTIONS };
    const fa = await load({ ...direct, url: `${pc.match}/portcullis/auth/request`, headers: { ...auth, 'x-original-url': 'http://app.example.com/inventory', 'x-original-method': 'GET' } }, pc.child.pid);
    const hcx = await load({ ...direct, url: `${pc.match}/api/admin/v1/sessions`, headers: auth }, pc.child.pid);

    rows.push([
      'B8 nginx + Portcullis auth / nginx alone',
      withAuth.rps / plain.rps,
      '>= 0.80',
      `${fmt(withAuth.rps)} vs ${fmt(plain.rps)} req/s (rounds ${withAuth.each} vs ${plain.each}); p50 ${fmt(withAuth.p50)}/${fmt(plain.p50)} ms; p99 ${fmt(withAuth.p99)}/${fmt(plain.p99)} ms; Portcullis CPU ${fmt(withAuth.cpuUs, 1)} µs per proxied request`,
    ]);
    rows.push([
      'B8 CPU per check: forward-auth / HCX (B1)',
      fa.cpuUs / hcx.cpuUs,
      '<= 1.10',
      `${fmt(fa.cpuUs, 1)} vs ${fmt(hcx.cpuUs, 1)} µs/check; direct ${fmt(fa.rps)} vs ${fmt(hcx.rps)} req/s; ${pinning}`,
    ]);
  } finally {
    for (const n of nginxes) await stopNginx(n);
    for (const c of children) stop(c);
  }
}

// Run alone: node bench/gateway.mjs
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-B8-'));
  const rows = [];
  try {
    await b8(rows, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  for (const [name, ratio, target, detail] of rows) console.log(`${name}  ${fmt(ratio, 2)}  ${target}  ${detail}`);
  process.exit(0);
}
