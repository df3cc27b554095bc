import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FAST_ARGON2, freePort } from './helpers.js';

/*
 * Real `portcullis serve` processes (the built CLI) for the multi-node and fault
 * tests: each on its own loopback port, sharing whatever backends the config names.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = join(ROOT, 'dist', 'cli.js');
const START_TIMEOUT_MS = 30_000;

/** The environment without any PORTCULLIS_* variable of the developer's shell. */
export function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PORTCULLIS_')) env[k] = v;
  return env;
}

/** Writes a config file for nodes sharing backends: cheap hashing, no per-user session limit, quiet logs, proxies trusted (tests pick source addresses). */
export function writeNodeConfig(dir: string, extra: Record<string, unknown>): string {
  const file = join(dir, 'portcullis.json');
  writeFileSync(
    file,
    JSON.stringify({
      dataDir: join(dir, 'data'),
      trustProxy: true,
      argon2: { memoryKiB: FAST_ARGON2.memoryKiB, iterations: FAST_ARGON2.iterations },
      accountSettings: { MaxConcurrentSessions: 0 },
      log: { level: 'warn' },
      ...extra,
    }),
  );
  return file;
}

/** Runs one CLI command against a config file; throws with its output when it fails. */
export function runCli(configFile: string, args: string[], input?: string): string {
  const r = spawnSync(process.execPath, [CLI, ...args, '--config', configFile], { env: cleanEnv(), input, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`portcullis ${args.join(' ')} exited ${r.status}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

export interface NodeProcess {
  child: ChildProcess;
  url: string;
  out: { stdout: string; stderr: string };
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts `portcullis serve --plain-http` on a free loopback port and waits until it serves. */
export async function startNode(configFile: string, env: NodeJS.ProcessEnv = {}): Promise<NodeProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [CLI, 'serve', '--config', configFile, '--plain-http', '--host', '127.0.0.1', '--port', String(port)], {
    env: { ...cleanEnv(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = { stdout: '', stderr: '' };
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (out.stdout += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (out.stderr += s));
  await new Promise<void>((resolve, reject) => {
    const done = (e?: Error) => {
      clearTimeout(timer);
      clearInterval(poll);
      child.off('exit', onExit);
      if (e) reject(e);
      else resolve();
    };
    const onExit = (code: number | null) => done(new Error(`portcullis serve exited (${code}) before serving:\n${out.stdout}\n${out.stderr}`));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      done(new Error(`portcullis serve did not start within ${START_TIMEOUT_MS} ms:\n${out.stdout}\n${out.stderr}`));
    }, START_TIMEOUT_MS);
    const poll = setInterval(() => /serving on/.test(out.stdout) && done(), 20);
    child.on('exit', onExit);
  });
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    out,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill(signal);
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** fetch with a bound: a hung server fails the test instead of hanging it. */
export async function call(url: string, init: RequestInit & { timeoutMs?: number } = {}): Promise<{ status: number; headers: Headers; body: string; json(): any; ms: number }> {
  const t0 = performance.now();
  const r = await fetch(url, { ...init, signal: AbortSignal.timeout(init.timeoutMs ?? 10_000) });
  const body = await r.text();
  return {
    status: r.status,
    headers: r.headers,
    body,
    json: () => JSON.parse(body),
    ms: performance.now() - t0,
  };
}

export async function hcxLogin(node: NodeProcess, username: string, password: string, from = '192.0.2.1') {
  const r = await call(`${node.url}/api/admin/v1/sessions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': from },
    body: JSON.stringify({ username, password }),
  });
  return { ...r, token: r.headers.get('x-hm-authorization') ?? '' };
}

export function hcxCheck(node: NodeProcess, token: string, timeoutMs?: number) {
  return call(`${node.url}/api/admin/v1/sessions`, { headers: { 'x-hm-authorization': token }, ...(timeoutMs ? { timeoutMs } : {}) });
}

export async function lxcaLogin(node: NodeProcess, username: string, password: string, from = '192.0.2.1') {
  const r = await call(`${node.url}/sessions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': from },
    body: JSON.stringify({ UserId: username, password }),
  });
  if (r.status !== 200) return { ...r, id: '', cookie: '', csrf: '' };
  const body = r.json();
  const token = /JSESSIONID=([^;]+)/.exec(r.headers.get('set-cookie') ?? '')?.[1] ?? '';
  const csrf = body.response.session.csrf as string;
  return { ...r, id: body.response.session.id as string, csrf, cookie: `JSESSIONID=${token}; csrf=${csrf}` };
}

export function lxcaCheck(node: NodeProcess, cookie: string) {
  return call(`${node.url}/sessions`, { headers: { cookie } });
}

export function admin(node: NodeProcess, token: string, method: string, path: string, body?: unknown) {
  return call(`${node.url}/portcullis/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}

/** Polls `probe` every 10 ms until it returns true; returns the ms it took, or throws after `limitMs`. */
export async function timeUntil(probe: () => Promise<boolean>, limitMs: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < 100_000; i++) {
    if (await probe()) return performance.now() - t0;
    if (performance.now() - t0 > limitMs) throw new Error(`not within ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('unreachable');
}
