import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { DATABASE_FILE } from '../../src/service.js';
import { hashToken } from '../../src/core/tokens.js';
import { freePort, tempDir } from '../helpers.js';
import { waitPort } from '../servers.js';

/* `portcullis serve` (dist/cli.js) as a process: SIGHUP and SIGTERM as an operator sends them. */

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = join(ROOT, 'dist', 'cli.js');
const PASSWORD = 'graceful stop password';

function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PORTCULLIS_')) env[k] = v;
  return env;
}

interface Answer {
  status: number;
  body: string;
  complete: boolean;
  sentAt: number;
}

/** One request; `complete` = the body arrived whole (as long as Content-Length says) and parses as JSON. */
function call(port: number, agent: Agent, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer | { error: string; sentAt: number }> {
  const sentAt = Date.now();
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, method, path, agent, headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        let json = true;
        try {
          JSON.parse(text);
        } catch {
          json = false;
        }
        resolve({ status: res.statusCode ?? 0, body: text, complete: json && Buffer.byteLength(text) === Number(res.headers['content-length']), sentAt });
      });
      res.on('error', (e) => resolve({ error: `cut off mid-answer: ${e.message}`, sentAt }));
      res.on('aborted', () => resolve({ error: 'cut off mid-answer (aborted)', sentAt }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message, sentAt }));
    req.setTimeout(15000, () => req.destroy(new Error('timeout')));
    req.end(body);
  });
}

describe('serve: SIGHUP rereads the log level, SIGTERM stops gracefully', () => {
  const dir = tempDir();
  const configFile = join(dir.path, 'portcullis.yaml');
  let child: ChildProcess | undefined;
  let stderr = '';

  const writeConfig = (level: string, sweep: number) =>
    writeFileSync(
      configFile,
      [
        `dataDir: ${dir.path}`,
        'accountSettings: { MaxConcurrentSessions: 0 }',
        `session: { sweepIntervalSeconds: ${sweep} }`,
        `log: { level: ${level} }`,
        // Real hashing cost, so logins are still running when SIGTERM comes.
        'argon2: { memoryKiB: 19456, iterations: 2 }',
      ].join('\n'),
    );

  after(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    dir.remove();
  });

  it('applies a new log level, names what needs a restart, then drains in-flight requests and keeps every touch', async () => {
    writeConfig('warn', 60);
    const add = spawnSync(process.execPath, [CLI, '--config', configFile, 'user', 'add', 'operator', '--role', 'System Administrator', '--password-stdin'], { input: PASSWORD, env: cleanEnv(), encoding: 'utf8', timeout: 20000 });
    assert.equal(add.status, 0, add.stderr);
    const port = await freePort();
    child = spawn(process.execPath, [CLI, '--config', configFile, 'serve', '--plain-http', '--port', String(port)], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.stdout!.resume();
    const proc = child;
    await waitPort(port, () => proc, 'portcullis serve', () => stderr);
    const agent = new Agent({ keepAlive: true, maxSockets: 16 });
    const login = () => call(port, agent, 'POST', '/api/admin/v1/sessions', {}, JSON.stringify({ username: 'operator', password: PASSWORD }));

    // SIGHUP: warn -> info, and a key that needs a restart.
    const first = await login();
    assert.ok('status' in first && first.status === 200);
    assert.ok(!stderr.includes('"event":"login.success"'), 'info lines are not logged at warn');
    writeConfig('info', 30);
    proc.kill('SIGHUP');
    const until = Date.now() + 5000;
    while (!stderr.includes('"event":"config.reloaded"') && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    assert.match(stderr, /"event":"config\.restart_needed","keys":\["session\.sweepIntervalSeconds"\]/);
    assert.match(stderr, /"event":"log\.level_changed","from":"warn","to":"info"/);
    assert.ok('status' in (await login()));
    const logged = Date.now() + 5000;
    while (!stderr.includes('"event":"login.success"') && Date.now() < logged) await new Promise((r) => setTimeout(r, 50));
    assert.match(stderr, /"event":"login\.success"/, 'info lines are logged now');

    // Sessions to check under load.
    const tokens: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await new Promise<string>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/api/admin/v1/sessions', agent, headers: { 'content-type': 'application/json' } }, (res) => {
          res.resume();
          resolve(String(res.headers['x-hm-authorization']));
        });
        req.on('error', reject);
        req.end(JSON.stringify({ username: 'operator', password: PASSWORD }));
      });
      tokens.push(r);
    }

    // Load: session checks on every token, in a loop, plus logins (tens of ms of hashing each) in flight at the stop.
    const lastSent = new Map<string, number>();
    const results: (Answer | { error: string; sentAt: number })[] = [];
    let stopAt = Infinity;
    const loops = tokens.map(async (token) => {
      while (Date.now() < stopAt + 2000) {
        const r = await call(port, agent, 'GET', '/api/admin/v1/sessions', { 'x-hm-authorization': token });
        results.push(r);
        if ('status' in r && r.status === 200) lastSent.set(token, Math.max(lastSent.get(token) ?? 0, r.sentAt));
        if ('error' in r) break; // the server is gone: connection refused from here on
      }
    });
    await new Promise((r) => setTimeout(r, 1500));
    const logins = Array.from({ length: 6 }, () => login());
    await new Promise((r) => setTimeout(r, 15)); // the logins are on the wire and being hashed
    stopAt = Date.now();
    proc.kill('SIGTERM');
    const [code] = (await once(proc, 'exit')) as [number | null];
    const loginAnswers = await Promise.all(logins);
    await Promise.all(loops);
    agent.destroy();

    assert.equal(code, 0, stderr);
    assert.match(stderr, /"event":"server\.stopped"/);
    // Answered whole: a session, or (the hashing admission at work beside the check load) 503 busy in the dialect's envelope.
    for (const r of loginAnswers) assert.ok('status' in r && (r.status === 200 || r.status === 503) && r.complete, `a login in flight at the stop was answered whole: ${JSON.stringify(r)}`);
    assert.ok(loginAnswers.some((r) => 'status' in r && r.status === 200), 'at least one login in flight at the stop made its session');
    const answered = results.filter((r): r is Answer => 'status' in r);
    assert.ok(answered.length > 50, `load was applied (${answered.length} checks)`);
    for (const r of answered) assert.ok(r.status === 200 && r.complete, `no check was cut off or refused: ${r.status} ${r.body.slice(0, 100)}`);
    // After the stop only "nobody listens" (or a connection closed before a request was read): never a cut-off answer.
    for (const r of results.filter((x): x is { error: string; sentAt: number } => 'error' in x)) assert.match(r.error, /^(ECONNREFUSED|ECONNRESET|socket hang up)$/);

    // Every touch answered before the stop is in the file.
    const db = new Database(join(dir.path, DATABASE_FILE), { readonly: true });
    try {
      const row = db.prepare('SELECT last_accessed_at AS t FROM sessions WHERE token_hash = ?');
      for (const token of tokens) {
        const got = row.get(hashToken(token)) as { t: number } | undefined;
        assert.ok(got, 'the session is in the store');
        assert.ok(got.t >= lastSent.get(token)!, `last touch ${lastSent.get(token)} is stored (stored ${got.t})`);
      }
    } finally {
      db.close();
    }
  });
});
