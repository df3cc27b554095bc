// Shared pieces of the benchmark scripts: child processes that are always killed,
// free loopback ports, bounded autocannon loads with the server's CPU time per request.
import autocannon from 'autocannon';
import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const cli = process.env.CLI ?? join(root, 'dist', 'cli.js');
export const DURATION = Number(process.env.DURATION ?? 10);

/** Runs of each measured load; the median is reported with the spread (min–max). */
export const REPEATS = Math.max(1, Number(process.env.REPEATS ?? 3));

/**
 * Pinning: servers on core 0, this process (the load generator) on core 1, so the
 * two do not compete for one core and a figure means the same on two days.
 * PIN=0 turns it off; it is off by itself where taskset (util-linux) or a second core is missing.
 */
function canPin() {
  if (process.env.PIN === '0' || cpus().length < 2) return false;
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
export const PINNED = canPin();
export const SERVER_CPU = process.env.SERVER_CPU ?? '0';
export const LOAD_CPU = process.env.LOAD_CPU ?? '1';
if (PINNED) execFileSync('taskset', ['-a', '-pc', LOAD_CPU, String(process.pid)], { stdio: 'ignore' });
export const pinning = PINNED ? `pinned: servers on CPU ${SERVER_CPU}, load generator on CPU ${LOAD_CPU} (taskset)` : 'not pinned (no taskset, one core, or PIN=0)';

const children = new Set();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});
process.on('SIGINT', () => process.exit(130));

/** Starts a child and resolves when `ready(line)` returns a value for a line of its stdout (bounded in time). */
export function start(cmd, args, opts, ready, timeoutMs = 20000) {
  return new Promise((resolve, reject) => {
    // taskset execs the command: the child's pid is the server's (its CPU time is read from /proc).
    const pin = PINNED && opts?.pin !== false;
    const child = spawn(pin ? 'taskset' : cmd, pin ? ['-c', opts?.cpu ?? SERVER_CPU, cmd, ...args] : args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let out = '';
    let err = '';
    let done = false;
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')} did not start in ${timeoutMs} ms\n${err}`)), timeoutMs);
    child.stdout.on('data', (d) => {
      out += d;
      if (done) return;
      const m = out.split('\n').map(ready).find((x) => x !== undefined && x !== null && x !== false);
      if (m !== undefined) {
        done = true;
        clearTimeout(timer);
        resolve({ child, match: m, output: () => out });
      }
    });
    child.stderr.on('data', (d) => {
      err += d;
      // BENCH_CHILD_STDERR=file keeps what the servers write to stderr (traces), which is otherwise dropped.
      if (process.env.BENCH_CHILD_STDERR) appendFileSync(process.env.BENCH_CHILD_STDERR, d);
    });
    child.on('exit', (code) => {
      children.delete(child);
      clearTimeout(timer);
      if (!done) reject(new Error(`${args.join(' ')} exited with ${code}\n${err}`));
    });
  });
}

export function stop(child) {
  children.delete(child);
  child.kill('SIGKILL');
}

export function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * CPU µs of each thread of a process (Linux /proc/<pid>/task): { tid: [user, system] }.
 * The first thread is the event loop; B2 uses it to split a login's CPU between the
 * event loop and the hashing threads.
 */
export function threadCpu(pid) {
  const out = {};
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out[tid] = [Number(f[11]) * 10_000, Number(f[12]) * 10_000];
    } catch {
      // the thread ended
    }
  }
  return out;
}

/** CPU time (user + system) of a process in µs, from /proc (10 ms ticks). */
export function cpuMicros(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/** A bounded autocannon load; with `pid`, also the server's CPU µs per request. Any failed request fails the run. */
export async function load(opts, pid) {
  const cpu0 = pid ? cpuMicros(pid) : 0;
  const r = await autocannon({ duration: DURATION, ...opts });
  const cpu1 = pid ? cpuMicros(pid) : 0;
  const n = r.requests.total;
  const bad = r.non2xx + r.errors + r.timeouts;
  if (bad > 0 && !opts.allowNon2xx) {
    const codes = Object.entries(r.statusCodeStats ?? {}).map(([c, v]) => `${c}×${v.count}`).join(' ');
    throw new Error(`${opts.url}: ${bad} failed requests of ${n + r.non2xx} (status ${codes || '-'}; ${r.errors} errors, ${r.timeouts} timeouts)`);
  }
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, total: n, non2xx: r.non2xx, cpuUs: pid && n ? (cpu1 - cpu0) / n : NaN };
}

/**
 * Runs a load REPEATS times and reports, per figure, the median and the spread:
 * { rps, cpuUs, p50, p99 } are medians; `spread` has [min, max] of each.
 */
export async function repeated(run, n = REPEATS) {
  const runs = [];
  for (let i = 0; i < n; i++) runs.push(await run(i));
  const med = (k) => {
    const v = runs.map((r) => r[k]).filter(Number.isFinite).sort((a, b) => a - b);
    return v.length === 0 ? NaN : v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  };
  const range = (k) => {
    const v = runs.map((r) => r[k]).filter(Number.isFinite);
    return v.length ? [Math.min(...v), Math.max(...v)] : [NaN, NaN];
  };
  return { rps: med('rps'), cpuUs: med('cpuUs'), p50: med('p50'), p99: med('p99'), total: runs.reduce((a, r) => a + r.total, 0), non2xx: runs.reduce((a, r) => a + r.non2xx, 0), runs, spread: { rps: range('rps'), cpuUs: range('cpuUs') } };
}

/** "12.3 (11.9–12.8)": a median with its spread. */
export const withSpread = (m, [lo, hi], d = 1) => `${fmt(m, d)} (${fmt(lo, d)}–${fmt(hi, d)})`;

export const fmt = (n, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : '-');

export function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}
