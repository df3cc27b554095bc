import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, tempDir } from '../helpers.js';
import { CLI, cleanEnv, runCli, writeNodeConfig } from '../nodes.js';
import { makeCa } from '../tls-ca.js';

/*
 * A real vCenter client, unmodified: govmomi's vapi/rest (Debian's
 * golang-github-vmware-govmomi-dev) in a small Go program of ours
 * (test/clients/govmomi), against `portcullis serve` over HTTPS with a
 * certificate the client verifies. It logs in, reads the session, logs out, and
 * gets a wrong password back as "401 Unauthorized" (not a transport error); a
 * session it makes is then used through HCX, Redfish and XClarity and revoked with the CLI.
 */

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SOURCE_DIR = join(ROOT, 'test', 'clients', 'govmomi');
const GOPATH = '/usr/share/gocode';
const BUILD_TIMEOUT_MS = 240_000;
const RUN_TIMEOUT_MS = 40_000;
const ADMIN = { username: 'administrator', password: 'Govmomi-Admin-Pass-1' };

interface Step {
  step: string;
  ok: boolean;
  sessionId?: string;
  user?: string;
  created?: string;
  lastAccessed?: string;
  loggedIn?: boolean;
  error?: string;
  transport?: boolean;
}

/**
 * Builds the Go client in GOPATH mode (about 20-60 s), once per source: the binary is
 * kept under ~/.cache/portcullis keyed by the hash of the source, the Go version and
 * govmomi's package version.
 */
function buildClient(): string {
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  assert.equal(go.status, 0, 'the Go toolchain is missing: scripts/check.sh installs golang-go and golang-github-vmware-govmomi-dev');
  assert.ok(existsSync(join(GOPATH, 'src/github.com/vmware/govmomi/vapi/rest/client.go')), `govmomi is missing under ${GOPATH} (Debian package golang-github-vmware-govmomi-dev)`);
  const pkg = spawnSync('dpkg-query', ['-W', '-f=${Version}', 'golang-github-vmware-govmomi-dev'], { encoding: 'utf8' }).stdout;
  const hash = createHash('sha256').update(readFileSync(join(SOURCE_DIR, 'main.go'))).update(go.stdout).update(pkg).digest('hex').slice(0, 16);
  const cache = join(homedir(), '.cache', 'portcullis');
  const bin = join(cache, `govmomi-session-${hash}`);
  if (existsSync(bin)) return bin;
  mkdirSync(cache, { recursive: true, mode: 0o700 });
  const tmp = `${bin}.${process.pid}.tmp`;
  const r = spawnSync('go', ['build', '-o', tmp, '.'], {
    cwd: SOURCE_DIR,
    env: { ...cleanEnv(), GO111MODULE: 'off', GOPATH, GOFLAGS: '', GOCACHE: join(cache, 'gocache'), CGO_ENABLED: '0' },
    encoding: 'utf8',
    timeout: BUILD_TIMEOUT_MS,
  });
  assert.equal(r.status, 0, `go build failed (${r.status ?? r.signal}):\n${r.stderr}${r.stdout}`);
  renameSync(tmp, bin);
  return bin;
}

/** Runs the Go client (bounded) and returns its steps. */
function govmomi(bin: string, args: string[]): Promise<{ code: number | null; steps: Step[]; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`govmomi client did not finish within ${RUN_TIMEOUT_MS} ms:\n${out}\n${err}`));
    }, RUN_TIMEOUT_MS);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const steps = out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Step);
      resolve({ code, steps, stderr: err });
    });
  });
}

/** An HTTPS request that verifies the server with the test CA. */
function call(url: string, ca: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method: opts.method ?? 'GET', headers: opts.headers, ca, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (s: string) => (body += s));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

describe('govmomi vapi/rest against portcullis serve (HTTPS, verified certificate)', { timeout: BUILD_TIMEOUT_MS + 120_000 }, () => {
  const dir = tempDir('portcullis-govmomi-');
  let bin: string;
  let configFile: string;
  let server: ChildProcess | undefined;
  let url: string;
  let ca: { caFile: string; otherCaFile: string; certFile: string; keyFile: string };
  let caPem: string;
  const out = { stdout: '', stderr: '' };
  const base = () => ['-url', url, '-ca', ca.caFile];

  before(async () => {
    bin = buildClient();
    ca = makeCa(dir.path);
    caPem = readFileSync(ca.caFile, 'utf8');
    configFile = writeNodeConfig(dir.path, {
      tls: { certFile: ca.certFile, keyFile: ca.keyFile },
      vcenter: { provider: 'local', domains: { 'vsphere.local': 'local' } },
    });
    runCli(configFile, ['user', 'add', ADMIN.username, '--role', 'System Administrator', '--password-stdin'], `${ADMIN.password}\n`);
    const port = await freePort();
    url = `https://127.0.0.1:${port}`;
    server = spawn(process.execPath, [CLI, 'serve', '--config', configFile, '--host', '127.0.0.1', '--port', String(port)], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    server.stdout!.setEncoding('utf8').on('data', (s: string) => (out.stdout += s));
    server.stderr!.setEncoding('utf8').on('data', (s: string) => (out.stderr += s));
    const t0 = Date.now();
    while (!/serving on https:/.test(out.stdout)) {
      if (server.exitCode !== null) throw new Error(`portcullis serve exited ${server.exitCode}:\n${out.stdout}\n${out.stderr}`);
      if (Date.now() - t0 > 30_000) throw new Error(`portcullis serve did not start:\n${out.stdout}\n${out.stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  });

  after(async () => {
    if (server && server.exitCode === null) {
      const exited = new Promise((r) => server!.once('exit', r));
      server.kill('SIGTERM');
      const t = setTimeout(() => server!.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    }
    dir.remove();
  });

  it('logs in, reads the session, logs out, and sees a wrong password as 401 (not a transport error)', async () => {
    const before = Date.now();
    const r = await govmomi(bin, [...base(), '-user', 'administrator@vsphere.local', '-password', ADMIN.password, 'full']);
    assert.equal(r.code, 0, JSON.stringify(r.steps) + r.stderr);
    const [login, session, logout, afterLogout, wrong] = r.steps;
    assert.deepEqual(r.steps.map((s) => s.step), ['login', 'session', 'logout', 'session-after-logout', 'wrong-password']);
    assert.equal(login!.ok, true);
    assert.match(login!.sessionId!, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(session!.loggedIn, true);
    assert.equal(session!.user, 'administrator@vsphere.local');
    const created = Date.parse(session!.created!);
    assert.ok(created >= before - 1000 && created <= Date.now() + 1000, `created_time ${session!.created} is now`);
    assert.ok(Date.parse(session!.lastAccessed!) >= created);
    assert.equal(logout!.ok, true);
    assert.equal(afterLogout!.ok, true);
    assert.equal(afterLogout!.loggedIn, false, 'after Logout, Session() reports "not logged in" (401)');
    assert.equal(wrong!.ok, true, JSON.stringify(wrong));
    assert.equal(wrong!.transport, undefined);
    assert.match(wrong!.error!, /POST https:\/\/127\.0\.0\.1:\d+\/rest\/com\/vmware\/cis\/session: 401 Unauthorized/);
    assert.equal(wrong!.loggedIn, false);
  });

  it('makes a session whose id works as the HCX token, the Redfish X-Auth-Token and the XClarity cookie, and which the CLI revokes', async () => {
    const login = await govmomi(bin, [...base(), '-user', 'VSPHERE.LOCAL\\administrator', '-password', ADMIN.password, 'login']);
    assert.equal(login.code, 0, JSON.stringify(login.steps) + login.stderr);
    const token = login.steps[0]!.sessionId!;

    const hcx = await call(`${url}/api/admin/v1/sessions`, caPem, { headers: { 'x-hm-authorization': token } });
    assert.equal(hcx.status, 200, hcx.body);
    assert.equal(JSON.parse(hcx.body).data.user.username, ADMIN.username);
    const redfish = await call(`${url}/redfish/v1/SessionService`, caPem, { headers: { 'x-auth-token': token } });
    assert.equal(redfish.status, 200, redfish.body);
    const lxca = await call(`${url}/sessions`, caPem, { headers: { cookie: `JSESSIONID=${token}` } });
    assert.equal(lxca.status, 200, lxca.body);
    const own = (JSON.parse(lxca.body).response as { id: string; isOwnSession: boolean }[]).find((s) => s.isOwnSession);
    assert.ok(own, 'XClarity lists the vCenter session as the caller\'s own');

    const check = await govmomi(bin, [...base(), '-session', token, 'check']);
    assert.equal(check.steps[0]!.loggedIn, true);

    assert.match(runCli(configFile, ['session', 'revoke', own.id]), /ended/);
    // Another process's write reaches the server's hot sessions within the SQLite store's coherence interval (100 ms);
    // on a loaded machine its timer may run late, so wait (bounded) until the server has seen it.
    const deadline = Date.now() + 3000;
    while ((await call(`${url}/api/session`, caPem, { headers: { 'vmware-api-session-id': token } })).status === 200) {
      assert.ok(Date.now() < deadline, 'the CLI revocation reached the server within 3 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    const after = await govmomi(bin, [...base(), '-session', token, 'check']);
    assert.equal(after.code, 0, JSON.stringify(after.steps) + after.stderr);
    assert.equal(after.steps[0]!.loggedIn, false, 'a session revoked with the CLI is "not logged in" for govmomi');
    assert.equal((await call(`${url}/api/admin/v1/sessions`, caPem, { headers: { 'x-hm-authorization': token } })).status, 401);
  });

  it('refuses a server certificate signed by another CA (govmomi verifies it; the error is a transport error)', async () => {
    const r = await govmomi(bin, ['-url', url, '-ca', ca.otherCaFile, '-user', ADMIN.username, '-password', ADMIN.password, 'login']);
    assert.equal(r.code, 1);
    assert.equal(r.steps[0]!.ok, false);
    assert.equal(r.steps[0]!.transport, true, JSON.stringify(r.steps));
    assert.match(r.steps[0]!.error!, /certificate|x509/i);
  });
});
