import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { openPortcullis, type Portcullis } from '../../src/service.js';
import { FAST_ARGON2, RecordingLogger, tempDir } from '../helpers.js';

/*
 * Real Redfish clients, unmodified, against a running Portcullis over HTTPS:
 * DMTF's redfishtool (CLI) and OpenStack's sushy library (Debian's python3-sushy,
 * imported by /usr/bin/python3). scripts/lib.sh installs both where missing.
 */

const ROOT_DIR = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = join(ROOT_DIR, 'dist', 'cli.js');
const SUSHY_SCRIPT = join(ROOT_DIR, 'test', 'integration', 'redfish_sushy_client.py');
const REDFISHTOOL = '/usr/bin/redfishtool';
const PYTHON = '/usr/bin/python3';
const RUN_TIMEOUT_MS = 30_000;
const ADMIN = { username: 'rfadmin', password: 'Rf-Admin-Pass-1' };
const OPERATOR = { username: 'rfoperator', password: 'Rf-Operator-Pass1' };

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

const running = new Set<ChildProcess>();

/**
 * The environment for the clients: no proxy, and no CA bundle variables (python-requests
 * lets REQUESTS_CA_BUNDLE override a client's own `verify`, so sushy is given the
 * service's certificate explicitly instead).
 */
function clientEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('PORTCULLIS_') || /^(https?_proxy|all_proxy|no_proxy|requests_ca_bundle|curl_ca_bundle)$/i.test(k)) continue;
    env[k] = v;
  }
  return env;
}

function run(cmd: string, args: string[], input?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: clientEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')} did not finish within ${RUN_TIMEOUT_MS} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, RUN_TIMEOUT_MS);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      running.delete(child);
      resolve({ code, stdout, stderr });
    });
    child.stdin!.end(input ?? '');
  });
}

/** An HTTPS request to the service (certificate checked against its own). */
function call(port: number, ca: string, method: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path, method, ca, headers }, (r) => {
      let b = '';
      r.setEncoding('utf8').on('data', (d: string) => (b += d));
      r.on('end', () => resolve({ status: r.statusCode ?? 0, body: b }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

describe('real Redfish clients against a running Portcullis', () => {
  const dir = tempDir();
  let p: Portcullis;
  let server: RunningServer;
  let port: number;
  let host: string;
  let ca: string;
  let caFile: string;
  let configFile: string;

  const tool = (args: string[]) => run(REDFISHTOOL, ['-r', host, '-S', 'Always', '-T', '10', ...args]);
  const hcxCheck = (token: string) => call(port, ca, 'GET', '/api/admin/v1/sessions', { 'x-hm-authorization': token });
  const lxcaList = (token: string) => call(port, ca, 'GET', '/sessions', { cookie: `JSESSIONID=${token}` });

  before(async () => {
    for (const [what, path] of [['redfishtool (Debian package redfishtool)', REDFISHTOOL], ['Debian python3', PYTHON]] as const) {
      assert.ok(existsSync(path), `${what} is missing: scripts/lib.sh ensure_redfish_clients installs it`);
    }
    const sushy = await run(PYTHON, ['-c', 'import sushy; print(sushy.__name__)']);
    assert.equal(sushy.code, 0, `python3-sushy is missing: scripts/lib.sh ensure_redfish_clients installs it\n${sushy.stderr}`);
    assert.ok(existsSync(CLI), `${CLI} is missing: build with npx tsc -p tsconfig.json (scripts/test.sh does)`);

    const overrides = {
      dataDir: dir.path,
      'listen.port': 0,
      'argon2.memoryKiB': FAST_ARGON2.memoryKiB,
      'argon2.iterations': FAST_ARGON2.iterations,
      'accountSettings.MaxConcurrentSessions': 0,
    };
    p = await openPortcullis(loadConfig({ env: {}, overrides }), new RecordingLogger());
    server = await startServer(p, new RecordingLogger(), () => undefined);
    port = Number(new URL(server.url).port);
    host = `127.0.0.1:${port}`;
    caFile = join(dir.path, 'tls', 'cert.pem');
    ca = readFileSync(caFile, 'utf8');
    await p.accounts.create({ username: ADMIN.username, password: ADMIN.password, roles: ['System Administrator'] });
    await p.accounts.create({ username: OPERATOR.username, password: OPERATOR.password, roles: ['Operator'] });
    // The CLI works on the same data directory (SQLite WAL), as `portcullis session revoke` would on the appliance.
    configFile = join(dir.path, 'cli-config.json');
    writeFileSync(configFile, JSON.stringify({ dataDir: dir.path, argon2: { memoryKiB: FAST_ARGON2.memoryKiB, iterations: FAST_ARGON2.iterations } }));
  });

  after(async () => {
    for (const c of running) c.kill('SIGKILL');
    await server?.stop();
    await p?.close();
    dir.remove();
  });

  describe('redfishtool', () => {
    it('reads the service root without credentials', async () => {
      const r = await tool(['root']);
      assert.equal(r.code, 0, r.stderr);
      const root = JSON.parse(r.stdout);
      assert.equal(root['@odata.type'], '#ServiceRoot.v1_18_0.ServiceRoot');
      assert.equal(root.Links.Sessions['@odata.id'], '/redfish/v1/SessionService/Sessions');
    });

    it('logs in with -A Session; the token works in redfishtool, in HCX and in XClarity; logout ends it everywhere', async () => {
      const login = await tool(['-u', ADMIN.username, '-p', ADMIN.password, '-A', 'Session', 'SessionService', 'login']);
      assert.equal(login.code, 0, login.stderr);
      const out = JSON.parse(login.stdout) as { SessionId: string; SessionLocation: string; 'X-Auth-Token': string };
      const token = out['X-Auth-Token'];
      assert.equal(out.SessionLocation, `/redfish/v1/SessionService/Sessions/${out.SessionId}`);

      const svc = await tool(['-t', token, '-A', 'Session', 'SessionService']);
      assert.equal(svc.code, 0, svc.stderr);
      assert.equal(JSON.parse(svc.stdout).SessionTimeout, 1440);
      const accounts = await tool(['-t', token, '-A', 'Session', 'AccountService', 'Accounts', 'list']);
      assert.equal(accounts.code, 0, accounts.stderr);
      assert.ok(JSON.parse(accounts.stdout).Members.some((m: { UserName: string }) => m.UserName === OPERATOR.username));

      assert.equal((await hcxCheck(token)).status, 200, 'the Redfish token is an HCX x-hm-authorization');
      const listed = await lxcaList(token);
      assert.equal(listed.status, 200, 'the Redfish token is the XClarity session cookie');
      assert.ok((JSON.parse(listed.body) as { response: { id: string }[] }).response.some((s) => s.id === out.SessionId));

      const logout = await tool(['-t', token, '-A', 'Session', 'SessionService', 'logout', '-i', out.SessionId]);
      assert.equal(logout.code, 0, logout.stderr);
      assert.equal((await hcxCheck(token)).status, 401, 'logged out everywhere');
      const again = await tool(['-t', token, '-A', 'Session', 'SessionService']);
      assert.notEqual(again.code, 0);
      assert.match(again.stderr, /401/);
    });

    it('a session revoked from the CLI (portcullis session revoke) is refused to redfishtool', async () => {
      const login = await tool(['-u', OPERATOR.username, '-p', OPERATOR.password, '-A', 'Session', 'SessionService', 'login']);
      assert.equal(login.code, 0, login.stderr);
      const out = JSON.parse(login.stdout) as { SessionId: string; 'X-Auth-Token': string };
      const list = await run(process.execPath, [CLI, 'session', 'list', '--json', '--config', configFile]);
      assert.equal(list.code, 0, list.stderr);
      assert.ok((JSON.parse(list.stdout) as { id: string; dialect: string }[]).some((s) => s.id === out.SessionId && s.dialect === 'redfish'));
      const revoke = await run(process.execPath, [CLI, 'session', 'revoke', out.SessionId, '--config', configFile]);
      assert.equal(revoke.code, 0, revoke.stderr);
      const after = await tool(['-t', out['X-Auth-Token'], '-A', 'Session', 'SessionService']);
      assert.notEqual(after.code, 0, after.stdout);
      assert.match(after.stderr, /401/);
    });

    it('reports a wrong password as a refused login (401), not a crash', async () => {
      const r = await tool(['-u', ADMIN.username, '-p', 'not-the-password', '-A', 'Session', 'SessionService']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /status_code: 401/);
      assert.match(r.stderr, /Session Login Failed/);
      assert.doesNotMatch(r.stderr, /Traceback/);
    });

    it('works in Basic mode without making a session', async () => {
      const before = (await p.sessions.listSessions()).length;
      const r = await tool(['-u', OPERATOR.username, '-p', OPERATOR.password, '-A', 'Basic', 'SessionService', 'Sessions']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout)['@odata.type'], '#SessionCollection.SessionCollection');
      assert.equal((await p.sessions.listSessions()).length, before);
      const wrong = await tool(['-u', OPERATOR.username, '-p', 'nope-nope-nope', '-A', 'Basic', 'SessionService']);
      assert.notEqual(wrong.code, 0);
      assert.match(wrong.stderr, /401/);
    });

    it('cannot log in over plain HTTP: the HTTPS port does not speak it, and no session is made', async () => {
      const before = (await p.sessions.listSessions()).length;
      const r = await run(REDFISHTOOL, ['-r', host, '-S', 'Never', '-T', '5', '-u', ADMIN.username, '-p', ADMIN.password, '-A', 'Session', 'SessionService', 'login']);
      assert.notEqual(r.code, 0);
      assert.equal((await p.sessions.listSessions()).length, before);
    });
  });

  describe('sushy (python3-sushy, session auth)', () => {
    it('opens a session, reads the session and account services, the token works in HCX, and logout ends it', async () => {
      const child = spawn(PYTHON, [SUSHY_SCRIPT, server.url, ADMIN.username, ADMIN.password, caFile], { env: clientEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
      running.add(child);
      let stderr = '';
      child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
      const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
      const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
      const next = async () => {
        const r = await lines.next();
        assert.ok(!r.done, `sushy script ended early: ${stderr}`);
        return JSON.parse(r.value as string) as Record<string, any>;
      };
      try {
        const opened = await next();
        assert.equal(opened.result, 'ok', stderr);
        assert.equal(opened.redfish_version, '1.15.0');
        assert.equal(opened.session_timeout, 1440);
        assert.equal(opened.service_enabled, true);
        assert.equal(opened.account_service.AccountLockoutThreshold, 20);
        assert.equal(opened.account_service.Accounts['@odata.id'], '/redfish/v1/AccountService/Accounts');
        const id = String(opened.session_uri).split('/').pop()!;
        assert.match(opened.session_uri, /^\/redfish\/v1\/SessionService\/Sessions\/[a-z0-9]+$/);
        assert.ok(opened.sessions.some((s: { id: string; username: string }) => s.id === id && s.username === ADMIN.username));
        assert.equal((await hcxCheck(opened.token)).status, 200, 'the sushy session works in HCX');
        assert.equal((await lxcaList(opened.token)).status, 200, 'and in XClarity');

        child.stdin!.write('logout\n');
        const closed = await next();
        assert.equal(closed.result, 'closed');
        assert.equal((await hcxCheck(opened.token)).status, 401, 'the library logged out, everywhere');
        assert.equal(await p.sessions.getSession(id), null);
      } finally {
        clearTimeout(timer);
        child.stdin!.end();
      }
      const [code] = (await new Promise((resolve) => (child.exitCode !== null ? resolve([child.exitCode]) : child.on('close', (c) => resolve([c]))))) as [number | null];
      running.delete(child);
      assert.equal(code, 0, stderr);
    });

    it('reports a wrong password as an AccessError with the Redfish message, not a crash', async () => {
      const r = await run(PYTHON, [SUSHY_SCRIPT, server.url, ADMIN.username, 'wrong-password-1', caFile]);
      assert.equal(r.code, 3, r.stderr);
      const out = JSON.parse(r.stdout) as { result: string; status: number; code: string };
      assert.equal(out.result, 'access_denied');
      assert.equal(out.status, 401);
      assert.equal(out.code, 'Base.1.16.NoValidSession');
      assert.doesNotMatch(r.stderr, /Traceback/);
    });
  });
});
