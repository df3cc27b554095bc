// B7: a credential-stuffing flood from many addresses while real users log in (issue 18).
//
//   node bench/run.mjs B7                 # in the harness (npm run bench runs it too)
//   node bench/flood.mjs                  # alone, same figures
//   B7_SECONDS=30 B7_SOURCES=1000 B7_CONNS=3 B7_ACCOUNTS=50 B7_PROFILE=1
//
// The server (HTTPS, SQLite, default settings but no per-user session limit) is pinned to
// core 0 and both load generators to core 1 with taskset where there are two cores and
// taskset exists. B7_PROFILE=1 also takes a CPU profile of the server during the flood and
// prints where its time went (self time by function).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cli, fmt, freePort, root, start, stop } from './lib.mjs';

const SECONDS = Number(process.env.B7_SECONDS ?? 30);
const SOURCES = Number(process.env.B7_SOURCES ?? 1000);
const CONNS = Number(process.env.B7_CONNS ?? 3);
const ACCOUNTS = Number(process.env.B7_ACCOUNTS ?? 50);
const PROFILE = process.env.B7_PROFILE === '1';
const load = join(root, 'bench', 'flood-load.mjs');
const pin = existsSync('/usr/bin/taskset') && cpus().length >= 2;
const pinned = (core, cmd, args) => (pin ? ['taskset', ['-c', String(core), cmd, ...args]] : [cmd, args]);

/** Runs a child to its end (bounded in time) and returns its stdout. */
function runChild(cmd, args, timeoutMs, onLine) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (d) => {
      out += d;
      if (onLine) for (const l of d.split('\n')) if (l) onLine(l);
    });
    child.stderr.setEncoding('utf8').on('data', (d) => (err += d));
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${args.join(' ')} exited with ${code}: ${err.slice(0, 500)}`));
    });
  });
}

function createAccounts(dataDir) {
  const script = `
    const { openPortcullis } = await import(${JSON.stringify(pathToFileURL(join(root, 'dist', 'service.js')).href)});
    const { loadConfig } = await import(${JSON.stringify(pathToFileURL(join(root, 'dist', 'config.js')).href)});
    const { silentLogger } = await import(${JSON.stringify(pathToFileURL(join(root, 'dist', 'core', 'logger.js')).href)});
    const p = await openPortcullis(loadConfig({ env: {}, overrides: { dataDir: ${JSON.stringify(dataDir)} } }), silentLogger);
    // Real users log in once a second for the whole run: no per-user session limit (they log out, but a 503 may leave none).
    await p.settings.set({ MaxConcurrentSessions: 0 });
    for (let i = 0; i < ${ACCOUNTS}; i++) await p.accounts.create({ username: 'user' + i, password: 'Real-Pass-' + i + '-x7', roles: ['System Administrator'] });
    await p.close();
  `;
  execFileSync(process.execPath, ['--input-type=module', '-e', script], { stdio: 'inherit' });
}

/** Self time by function in a V8 CPU profile, the largest first. */
function topSelfTime(file, n = 15) {
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const dt = new Map();
  const { samples, timeDeltas, nodes } = prof;
  const byId = new Map(nodes.map((x) => [x.id, x]));
  for (let i = 0; i < samples.length; i++) dt.set(samples[i], (dt.get(samples[i]) ?? 0) + (timeDeltas[i] ?? 0));
  const total = [...dt.values()].reduce((a, b) => a + b, 0);
  const byFn = new Map();
  for (const [id, us] of dt) {
    const f = byId.get(id).callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url ? f.url.replace(/^.*\/(node_modules\/|dist\/|node:)/, '$1') : ''}${f.url ? ':' + f.lineNumber : ''}`;
    byFn.set(key, (byFn.get(key) ?? 0) + us);
  }
  return [...byFn].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, us]) => `${((100 * us) / total).toFixed(1).padStart(5)} %  ${k}`);
}

export async function b7(rows, dir) {
  if (!existsSync(cli)) throw new Error('B7 needs the build: npm run build');
  createAccounts(dir);
  const port = await freePort();
  const profDir = join(dir, 'prof');
  const [cmd, args] = pinned(0, process.execPath, [...(PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []), cli, 'serve', '--host', '127.0.0.1', '--port', String(port), '--data-dir', dir]);
  const srv = await start(cmd, args, { env: { ...process.env, PORTCULLIS_LOG_LEVEL: 'warn' } }, (l) => /serving on (https:\/\/\S+)/.exec(l)?.[1], 60000);
  try {
    const token = (await runChild(process.execPath, [load, 'prime', String(port), '0', String(ACCOUNTS)], 60_000)).trim();
    const pid = srv.child.pid; // taskset execs the command: the same process
    let ramped;
    const rampedP = new Promise((r) => (ramped = r));
    const [acmd, aargs] = pinned(1, process.execPath, [load, 'attack', String(port), String(SECONDS), String(ACCOUNTS), String(SOURCES), String(CONNS)]);
    const attackP = runChild(acmd, aargs, (SECONDS + 120) * 1000, (l) => l === 'ramped' && ramped());
    await Promise.race([rampedP, attackP]);
    const cpu0 = cpuSeconds(pid);
    const [ucmd, uargs] = pinned(1, process.execPath, [load, 'users', String(port), String(SECONDS), String(ACCOUNTS), token]);
    const users = JSON.parse(await runChild(ucmd, uargs, (SECONDS + 60) * 1000));
    const cpu1 = cpuSeconds(pid);
    const attack = JSON.parse((await attackP).trim().split('\n').pop());
    const okPct = (100 * users.ok) / Math.max(1, users.attempts);
    rows.push(['B7 real logins during the flood (%)', okPct, '>= 99', `${users.ok} of ${users.attempts} (${ACCOUNTS} known users, 1/s each, no retry); statuses ${JSON.stringify(users.byStatus)}; login p50 ${fmt(users.loginP50)} ms, p99 ${fmt(users.loginP99)} ms`]);
    rows.push(['B7 guesses that succeeded', attack.guessesSucceeded, '0', `the real password is each account's 30th checked guess (lock at 20); answers ${JSON.stringify(attack.byStatus)}`]);
    rows.push(['B7 attempts answered /s', attack.attemptsPerSecond, '', `${SOURCES} sources × ${CONNS} HTTPS keep-alive connections (${attack.connections} opened, ${attack.connectErrors} failed, ramp ${attack.rampMs} ms); server CPU ${fmt((cpu1 - cpu0) / SECONDS, 2)} cores${pin ? ' (pinned to core 0, load to core 1)' : ' (not pinned)'}`]);
    rows.push(['B7 check p99 during the flood (ms)', users.checkP99, '<= 10', `${users.checks} checks, one every 10 ms; p50 ${fmt(users.checkP50, 1)} ms; failed ${users.checkFailures}`]);
    if (PROFILE) {
      srv.child.kill('SIGTERM');
      await new Promise((r) => srv.child.once('exit', r));
      const f = existsSync(profDir) ? readdirSync(profDir).find((x) => x.endsWith('.cpuprofile')) : undefined;
      if (f) process.stderr.write(`B7 server CPU profile (${join(profDir, f)}), self time:\n${topSelfTime(join(profDir, f)).join('\n')}\n`);
    }
  } finally {
    stop(srv.child);
  }
}

function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}

// Alone: node bench/flood.mjs
if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = [];
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-B7-'));
  try {
    await b7(rows, dir);
  } finally {
    if (!PROFILE) rmSync(dir, { recursive: true, force: true });
  }
  for (const [name, v, target, detail] of rows) console.log(`${name.padEnd(38)} ${fmt(v, 2).padStart(9)}  ${target.padEnd(6)} ${detail}`);
}
