import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, tempDir } from '../helpers.js';
import { cleanEnv } from '../nodes.js';

/*
 * The real thing: the built CLI serving plain HTTP on a socket, logins over fetch
 * through both dialects, then SIGKILL and a restart on the same data directory.
 * Committed sessions must survive, and no secret may reach stdout or the log.
 */

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = join(ROOT, 'dist', 'cli.js');
const START_TIMEOUT_MS = 20_000;
const REQUEST_TIMEOUT_MS = 10_000;



/** Resolves when `check` passes on the child's output, rejects on exit or timeout. */
function waitForOutput(child: ChildProcess, out: { stdout: string; stderr: string }, check: () => boolean, what: string, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      clearTimeout(timer);
      clearInterval(poll);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve();
    };
    const onExit = (code: number | null, signal: string | null) =>
      done(new Error(`process exited (code ${code}, signal ${signal}) before ${what}\nstdout:\n${out.stdout}\nstderr:\n${out.stderr}`));
    const timer = setTimeout(() => done(new Error(`timed out after ${ms} ms waiting for ${what}\nstdout:\n${out.stdout}\nstderr:\n${out.stderr}`)), ms);
    const poll = setInterval(() => check() && done(), 20);
    child.on('exit', onExit);
    if (check()) done();
  });
}

function waitForExit(child: ChildProcess, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`process ${child.pid} did not exit within ${ms} ms`)), ms);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

interface Server {
  child: ChildProcess;
  url: string;
  out: { stdout: string; stderr: string };
}

describe('sessions survive a crash of the server (real processes, SIGKILL)', () => {
  const dir = tempDir('portcullis-crash-');
  const dataDir = join(dir.path, 'data');
  const children = new Set<ChildProcess>();
  const outputs: { what: string; text: string }[] = [];
  const bobPassword = `Bob-${randomBytes(12).toString('base64url')}`;

  function serve(port: number): Promise<Server> {
    const child = spawn(process.execPath, [CLI, 'serve', '--data-dir', dataDir, '--plain-http', '--port', String(port), '--host', '127.0.0.1'], {
      env: cleanEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    const out = { stdout: '', stderr: '' };
    child.stdout!.setEncoding('utf8').on('data', (s: string) => (out.stdout += s));
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (out.stderr += s));
    const url = `http://127.0.0.1:${port}`;
    return waitForOutput(child, out, () => out.stdout.includes(`serving on ${url}`), `"serving on ${url}"`, START_TIMEOUT_MS).then(() => ({ child, url, out }));
  }

  async function cli(args: string[], input: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const child = spawn(process.execPath, [CLI, ...args], { env: cleanEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.stdin!.end(input);
    const { code } = await waitForExit(child, START_TIMEOUT_MS);
    return { code, stdout, stderr };
  }

  const request = (url: string, init: RequestInit = {}) => fetch(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  const postJson = (url: string, body: unknown) =>
    request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  function cookie(res: Response, name: string): string | undefined {
    const line = res.headers.getSetCookie().find((c) => c.startsWith(`${name}=`));
    return line === undefined ? undefined : decodeURIComponent(line.split(';')[0]!.slice(name.length + 1));
  }

  let first: Server;
  let second: Server;
  let adminPassword = '';
  const secrets: { what: string; value: string }[] = [{ what: "bob's password", value: bobPassword }];
  let hcxToken = '';
  let lxca = { token: '', csrf: '', id: '' };
  let adminLxcaId = '';

  after(async () => {
    for (const c of children) {
      if (c.exitCode === null && c.signalCode === null) {
        c.kill('SIGKILL');
        await waitForExit(c, 5_000).catch(() => undefined);
      }
    }
    dir.remove();
  });

  before(async () => {
    first = await serve(await freePort());
  });

  it('prints the first administrator password once on stdout, and it logs in (with a password change required)', async () => {
    const m = /password: (\S+)/.exec(first.out.stdout);
    assert.ok(m, `stdout shows the first admin password:\n${first.out.stdout}`);
    adminPassword = m[1]!;
    const res = await postJson(`${first.url}/sessions`, { UserId: 'admin', password: adminPassword });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { response: { pwChangeRequired: boolean; session: { id: string; csrf: string } } };
    assert.equal(body.response.pwChangeRequired, true);
    adminLxcaId = body.response.session.id;
    const token = cookie(res, 'JSESSIONID');
    assert.ok(token);
    secrets.push({ what: "admin's LXCA token", value: token }, { what: "admin's csrf", value: body.response.session.csrf });
  });

  it('creates bob with the CLI while the server runs on the same data directory', async () => {
    const r = await cli(['user', 'add', 'bob', '--role', 'System Administrator', '--password-stdin', '--data-dir', dataDir], `${bobPassword}\n`);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /created account bob/);
    outputs.push({ what: 'user add stdout', text: r.stdout }, { what: 'user add stderr', text: r.stderr });
  });

  it('logs bob in over HTTP through HCX and through LXCA', async () => {
    const h = await postJson(`${first.url}/api/admin/v1/sessions`, { username: 'bob', password: bobPassword });
    assert.equal(h.status, 200, await h.clone().text());
    hcxToken = h.headers.get('x-hm-authorization') ?? '';
    assert.match(hcxToken, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(((await h.json()) as { data: { user: { username: string } } }).data.user.username, 'bob');

    const l = await postJson(`${first.url}/sessions`, { UserId: 'bob', password: bobPassword });
    assert.equal(l.status, 200, await l.clone().text());
    const body = (await l.json()) as { response: { session: { id: string; csrf: string; UserId: string } } };
    assert.equal(body.response.session.UserId, 'bob');
    lxca = { token: cookie(l, 'JSESSIONID') ?? '', csrf: cookie(l, 'csrf') ?? '', id: body.response.session.id };
    assert.match(lxca.token, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(lxca.token, hcxToken);
    secrets.push({ what: 'HCX token', value: hcxToken }, { what: 'LXCA token', value: lxca.token }, { what: "bob's csrf", value: lxca.csrf });

    const check = await request(`${first.url}/api/admin/v1/sessions`, { headers: { 'x-hm-authorization': hcxToken } });
    assert.equal(check.status, 200, 'the HCX token works before the crash');
  });

  it('keeps both sessions usable after SIGKILL and a restart on the same data directory', async () => {
    first.child.kill('SIGKILL');
    const exit = await waitForExit(first.child, 10_000);
    assert.equal(exit.signal, 'SIGKILL');
    outputs.push({ what: 'first server stdout', text: first.out.stdout }, { what: 'first server stderr', text: first.out.stderr });

    second = await serve(await freePort());
    assert.ok(!/password: /.test(second.out.stdout), 'no first-admin password on a store that has accounts');

    const h = await request(`${second.url}/api/admin/v1/sessions`, { headers: { 'x-hm-authorization': hcxToken } });
    assert.equal(h.status, 200, await h.clone().text());
    assert.equal(((await h.json()) as { data: { user: { username: string; roles: string[] } } }).data.user.username, 'bob');

    const l = await request(`${second.url}/sessions`, { headers: { cookie: `JSESSIONID=${lxca.token}` } });
    assert.equal(l.status, 200, await l.clone().text());
    const list = (await l.json()) as { result: string; response: { id: string; UserId: string; isOwnSession: boolean }[] };
    assert.equal(list.result, 'success');
    const own = list.response.find((s) => s.isOwnSession);
    assert.equal(own?.id, lxca.id);
    assert.equal(own?.UserId, 'bob');
    const ids = list.response.map((s) => s.id);
    assert.ok(ids.includes(adminLxcaId), "an administrator sees the admin's session from before the crash too");
    assert.equal(list.response.filter((s) => s.UserId === 'bob').length, 2, "bob's HCX and LXCA sessions");
  });

  it('still refuses a wrong password and accepts the right one after the restart', async () => {
    const bad = await postJson(`${second.url}/api/admin/v1/sessions`, { username: 'bob', password: `${bobPassword}x` });
    assert.equal(bad.status, 401);
    const good = await postJson(`${second.url}/api/admin/v1/sessions`, { username: 'bob', password: bobPassword });
    assert.equal(good.status, 200);
    const token = good.headers.get('x-hm-authorization');
    assert.ok(token);
    secrets.push({ what: 'HCX token after restart', value: token });
  });

  it('never writes bob\'s password or any token to stdout or the log (stderr)', async () => {
    second.child.kill('SIGTERM');
    const exit = await waitForExit(second.child, 10_000);
    assert.equal(exit.code, 0, `graceful stop:\n${second.out.stderr}`);
    outputs.push({ what: 'second server stdout', text: second.out.stdout }, { what: 'second server stderr', text: second.out.stderr });
    assert.match(second.out.stderr, /login\.success/, 'the log was captured (it records logins)');
    assert.match(second.out.stderr, /login\.failure/);
    assert.ok(secrets.length >= 6);
    for (const { what, text } of outputs) {
      for (const s of secrets) {
        assert.ok(s.value.length > 0);
        assert.ok(!text.includes(s.value), `${what} contains ${s.what}`);
      }
    }
  });
});
