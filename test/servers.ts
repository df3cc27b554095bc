import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './helpers.js';
import { makeCa, type TestCa } from './tls-ca.js';

/*
 * Private PostgreSQL and Redis servers for the tests and the benchmarks: real
 * Debian-packaged servers (scripts/check.sh installs them), started on 127.0.0.1
 * under a temp dir, stopped, killed, paused and restarted by the tests that need
 * a backend to fail. Every wait is bounded.
 */

const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;

/** A server process the tests control. */
export interface TestServer {
  readonly host: string;
  readonly port: number;
  /** Starts it (again) on the same port and data. */
  start(): Promise<void>;
  /** Stops it: SIGTERM (a clean shutdown) or SIGKILL (a crash). */
  stop(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** Freezes it (SIGSTOP): connections stay open and nothing answers. */
  pause(): Promise<void>;
  resume(): void;
  running(): boolean;
  /** Stops it and removes its files. */
  destroy(): Promise<void>;
}

export interface TestPostgres extends TestServer {
  /** With `tls: true`: the CA that signed the server's certificate, and one that did not. */
  ca?: TestCa;
  /** A connection URL to a fresh, empty database (a new one per call). */
  newDatabase(): Promise<string>;
}

export interface TestRedis extends TestServer {
  /** With `tls: true`: the CA that signed the server's certificate, and one that did not. */
  ca?: TestCa;
  /** A connection URL to a fresh logical database (0..15, a new one per call, flushed). */
  newDatabase(): Promise<string>;
}

function postgresBin(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  for (const v of versions) if (existsSync(join(base, v, 'bin', 'postgres'))) return join(base, v, 'bin');
  return undefined;
}

/** Why PostgreSQL cannot run here, or undefined when it can. */
export function havePostgres(): string | undefined {
  if (!postgresBin()) return 'PostgreSQL is missing (bash scripts/check.sh installs the postgresql package)';
  if (process.getuid?.() !== 0) return 'the tests start PostgreSQL as the postgres user, which needs root';
  if (spawnSync('id', ['-u', 'postgres']).status !== 0) return 'there is no postgres user';
  return undefined;
}

/** Why Redis cannot run here, or undefined when it can. */
export function haveRedis(): string | undefined {
  if (spawnSync('redis-server', ['--version']).status !== 0) return 'redis-server is missing (bash scripts/check.sh installs it)';
  return undefined;
}

/** Waits (bounded) until something listens on 127.0.0.1:`port`; fails at once if the server process has exited. */
export async function waitPort(port: number, child: () => ChildProcess | undefined, what: string, log: () => string): Promise<void> {
  const until = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    const c = child();
    if (c && (c.exitCode !== null || c.signalCode !== null)) throw new Error(`${what} exited (${c.exitCode ?? c.signalCode}): ${log()}`);
    if (Date.now() > until) throw new Error(`${what} did not listen on ${port} within ${START_TIMEOUT_MS} ms: ${log()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Polls `ok` every 50 ms until it holds, for at most START_TIMEOUT_MS. */
async function pollUntil(failure: string, ok: () => boolean): Promise<void> {
  const until = Date.now() + START_TIMEOUT_MS;
  while (!ok()) {
    if (Date.now() > until) throw new Error(failure);
    await new Promise((res) => setTimeout(res, 50));
  }
}

function processControl(what: string, port: number, spawnIt: () => ChildProcess, ready: () => Promise<void>, cleanup: () => void): TestServer {
  let child: ChildProcess | undefined;
  let log = '';
  const alive = () => !!child && child.exitCode === null && child.signalCode === null;
  const stop = async (signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM') => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = once(c, 'exit');
    c.kill('SIGCONT');
    c.kill(signal);
    const t = setTimeout(() => c.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(t);
  };
  return {
    host: '127.0.0.1',
    port,
    async start() {
      if (alive()) return;
      log = '';
      child = spawnIt();
      child.stdout?.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
      child.stderr?.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
      await waitPort(port, () => child, what, () => log);
      await ready();
    },
    stop,
    async pause() {
      const pid = child?.pid;
      if (!pid || !alive()) return;
      child!.kill('SIGSTOP');
      const statPath = `/proc/${pid}/stat`;
      for (let i = 0; i < 200; i++) {
        const stat = readFileSync(statPath, 'utf8');
        const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
        if (state === 'T' || state === 't') return;
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error(`${what} did not stop within 2 s of SIGSTOP`);
    },
    resume: () => void child?.kill('SIGCONT'),
    running: alive,
    async destroy() {
      await stop('SIGKILL');
      cleanup();
    },
  };
}

function asPostgres(cmd: string, args: string[]): void {
  const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const r = spawnSync(cmd, args, { uid, gid, encoding: 'utf8', timeout: 60_000, cwd: '/' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
}

/**
 * A private PostgreSQL on 127.0.0.1 under a temp dir, run as the postgres user,
 * trust authentication on loopback only. fsync stays on: the fault tests kill it
 * and count what survives.
 */
export async function startPostgres(opts: { fsync?: boolean; tls?: boolean } = {}): Promise<TestPostgres> {
  const bin = postgresBin();
  if (!bin) throw new Error('PostgreSQL is missing');
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-pg-'));
  const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  chownSync(dir, uid, gid);
  const data = join(dir, 'data');
  asPostgres(join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C']);
  const port = await freePort();
  let dbSerial = 0;
  let tlsArgs: string[] = [];
  let ca: TestCa | undefined;
  if (opts.tls) {
    const made = makeCa(dir);
    // PostgreSQL reads its key as the postgres user and wants it private.
    for (const f of [made.certFile, made.keyFile]) chownSync(f, uid, gid);
    ca = { caFile: made.caFile, otherCaFile: made.otherCaFile };
    tlsArgs = ['-c', 'ssl=on', '-c', `ssl_cert_file=${made.certFile}`, '-c', `ssl_key_file=${made.keyFile}`];
  }
  const server = processControl(
    'postgres',
    port,
    () =>
      spawn(
        join(bin, 'postgres'),
        ['-D', data, '-c', 'listen_addresses=127.0.0.1', '-p', String(port), '-k', dir, '-c', `fsync=${opts.fsync === false ? 'off' : 'on'}`, '-c', 'max_connections=200', ...tlsArgs],
        { uid, gid, cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] },
      ),
    // Listening is not accepting: wait until it answers (recovery after a crash takes a moment).
    () => pollUntil('postgres did not become ready', () => spawnSync(join(bin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres'], { timeout: 5000 }).status === 0),
    () => rmSync(dir, { recursive: true, force: true }),
  );
  await server.start();
  return {
    ...server,
    ...(ca ? { ca } : {}),
    async newDatabase() {
      dbSerial += 1;
      const name = `t${process.pid}_${dbSerial}`;
      const r = spawnSync('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-v', 'ON_ERROR_STOP=1', '-qc', `CREATE DATABASE ${name}`], {
        encoding: 'utf8',
        timeout: 30_000,
      });
      if (r.status !== 0) throw new Error(`CREATE DATABASE failed: ${r.stderr}`);
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
  };
}

const redisCli = (port: number, tlsCa: string | undefined, ...args: string[]) =>
  spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...(tlsCa ? ['--tls', '--cacert', tlsCa] : []), ...args], { encoding: 'utf8', timeout: 5000 });

/**
 * A private Redis on 127.0.0.1 under a temp dir, with the append-only file fsynced
 * on every write (`appendfsync always`): what a deployment that must not lose a
 * committed session runs, and what lets the fault tests restart it.
 *
 * `mode: 'cluster'` makes it a one-node Redis Cluster owning every slot (clients
 * speak the cluster protocol to it: MOVED handling, slot checks on scripts);
 * `mode: 'sentinel'` adds a Sentinel watching it as master "mymaster", and the
 * URLs handed out go through the Sentinel.
 */
export async function startRedis(opts: { mode?: 'standalone' | 'cluster' | 'sentinel'; tls?: boolean } = {}): Promise<TestRedis> {
  const mode = opts.mode ?? 'standalone';
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-redis-'));
  const port = await freePort();
  const made = opts.tls ? makeCa(dir) : undefined;
  const ca = made ? { caFile: made.caFile, otherCaFile: made.otherCaFile } : undefined;
  const portArgs = made
    ? ['--port', '0', '--tls-port', String(port), '--tls-cert-file', made.certFile, '--tls-key-file', made.keyFile, '--tls-ca-cert-file', made.caFile, '--tls-auth-clients', 'no']
    : ['--port', String(port)];
  const cli = (...args: string[]) => redisCli(port, ca?.caFile, ...args);
  let db = 0;
  const clusterArgs = mode === 'cluster' ? ['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf'), '--cluster-announce-ip', '127.0.0.1'] : [];
  const server = processControl(
    'redis-server',
    port,
    () =>
      spawn(
        'redis-server',
        ['--bind', '127.0.0.1', ...portArgs, '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--daemonize', 'no', '--protected-mode', 'yes', '--databases', '64', ...clusterArgs],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      ),
    // Listening is not serving: wait until PING answers (loading the append-only file takes a moment).
    () => pollUntil('redis did not answer PING', () => cli('PING').stdout?.trim() === 'PONG'),
    () => rmSync(dir, { recursive: true, force: true }),
  );
  await server.start();
  if (mode === 'cluster') {
    cli('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
    await pollUntil('the one-node cluster did not reach cluster_state:ok', () => /cluster_state:ok/.test(cli('CLUSTER', 'INFO').stdout ?? ''));
  }
  let sentinel: TestServer | undefined;
  if (mode === 'sentinel') {
    const sentinelPort = await freePort();
    const conf = join(dir, 'sentinel.conf');
    writeFileSync(conf, `port ${sentinelPort}\nbind 127.0.0.1\ndir ${dir}\nsentinel monitor mymaster 127.0.0.1 ${port} 1\nsentinel down-after-milliseconds mymaster 5000\n`);
    sentinel = processControl(
      'redis sentinel',
      sentinelPort,
      () => spawn('redis-server', [conf, '--sentinel'], { stdio: ['ignore', 'pipe', 'pipe'] }),
      () => pollUntil('the sentinel did not learn its master', () => (redisCli(sentinelPort, undefined, 'SENTINEL', 'get-master-addr-by-name', 'mymaster').stdout ?? '').includes(String(port))),
      () => {},
    );
    await sentinel.start();
  }
  return {
    ...server,
    ...(ca ? { ca } : {}),
    async destroy() {
      await sentinel?.destroy();
      await server.destroy();
    },
    async newDatabase() {
      if (mode === 'cluster') {
        // A cluster has database 0 only: empty it for each new store.
        cli('FLUSHALL');
        return `redis-cluster://127.0.0.1:${port}`;
      }
      db = (db + 1) % 64;
      cli('-n', String(db), 'FLUSHDB');
      if (sentinel) return `redis-sentinel://127.0.0.1:${sentinel.port}/mymaster/${db}`;
      return `${ca ? 'rediss' : 'redis'}://127.0.0.1:${port}/${db}`;
    },
  };
}
