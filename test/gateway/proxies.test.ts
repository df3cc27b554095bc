import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ManualClock } from '../../src/ports/clock.js';
import { addUser, freePort, harness, tempDir, type Harness } from '../helpers.js';
import { cleanEnv } from '../nodes.js';
import { waitPort } from '../servers.js';
import { echoUpstream, headerValues, send, type Echoed } from './http.js';

/*
 * The real thing: Debian's nginx (auth_request) and Caddy (forward_auth), each
 * started privately on loopback with exactly the file `portcullis proxy-config`
 * prints, in front of an upstream that echoes the headers it received, with
 * Portcullis itself listening in this process. scripts/lib.sh installs both.
 */

const cli = fileURLToPath(new URL('../../../dist/cli.js', import.meta.url));
const BROWSER = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
const IDENTITY = ['Remote-User', 'Remote-Groups', 'Remote-Name', 'Remote-Email', 'Remote-Session-Id', 'Remote-Auth-Source'];
const RULES = [
  { name: 'public', path: '/public/**', access: 'anonymous' },
  { name: 'admin', path: '/admin/**', access: 'roles', roles: ['System Administrator'] },
  { name: 'everything else', access: 'authenticated' },
];

function missing(bin: string, args: string[]): string | undefined {
  return spawnSync(bin, args).error ? `${bin} is not installed (bash scripts/check.sh installs it)` : undefined;
}

interface Proxy {
  name: 'nginx' | 'caddy';
  skip: string | undefined;
  start(dir: string, configText: string, port: number): ChildProcess;
}

const PROXIES: Proxy[] = [
  {
    name: 'nginx',
    skip: missing('nginx', ['-v']),
    start(dir, text) {
      writeFileSync(join(dir, 'nginx.conf'), text);
      return spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
    },
  },
  {
    name: 'caddy',
    skip: missing('caddy', ['version']),
    start(dir, text) {
      writeFileSync(join(dir, 'Caddyfile'), text);
      return spawn('caddy', ['run', '--config', join(dir, 'Caddyfile'), '--adapter', 'caddyfile'], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...cleanEnv(), HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir },
      });
    },
  },
];

for (const proxy of PROXIES) {
  describe(`through a real ${proxy.name}`, { skip: proxy.skip }, () => {
    let h: Harness;
    let clock: ManualClock;
    let upstream: Awaited<ReturnType<typeof echoUpstream>>;
    let child: ChildProcess | undefined;
    let log = '';
    let base = '';
    const dir = tempDir(`portcullis-${proxy.name}-`);
    let alice = '';
    let bob = '';

    async function login(username: string, password: string): Promise<string> {
      const r = await h.app.inject({ method: 'POST', url: '/api/admin/v1/sessions', payload: { username, password } });
      assert.equal(r.statusCode, 200, r.body);
      return String(r.headers['x-hm-authorization']);
    }

    before(async () => {
      clock = new ManualClock(Date.UTC(2026, 10, 23, 9, 0, 0));
      h = await harness({ clock, overrides: { 'gateway.rules': RULES, 'gateway.returnDomains': ['example.com'] } });
      await addUser(h, 'alice', 'Alice-Pass-1', ['System Administrator']);
      await addUser(h, 'bob', 'Bob-Pass-123', ['Appliance Administrator']);
      await h.app.listen({ host: '127.0.0.1', port: 0 });
      const pcPort = (h.app.server.address() as AddressInfo).port;
      upstream = await echoUpstream();
      const port = await freePort();
      // Exactly what the command prints.
      const text = execFileSync(
        process.execPath,
        [cli, 'proxy-config', proxy.name, '--listen', `127.0.0.1:${port}`, '--upstream', upstream.url, '--portcullis', `http://127.0.0.1:${pcPort}`],
        { env: cleanEnv(), encoding: 'utf8' },
      );
      chmodSync(dir.path, 0o755);
      child = proxy.start(dir.path, text, port);
      child.stdout?.on('data', (c: Buffer) => (log = (log + c.toString()).slice(-4000)));
      child.stderr?.on('data', (c: Buffer) => (log = (log + c.toString()).slice(-4000)));
      await waitPort(port, () => child, proxy.name, () => log);
      base = `http://127.0.0.1:${port}`;
      alice = await login('alice', 'Alice-Pass-1');
      bob = await login('bob', 'Bob-Pass-123');
    });

    after(async () => {
      if (child && child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        const t = setTimeout(() => child?.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      await upstream?.close();
      await h?.close();
      dir.remove();
    });

    const get = (path: string, headers: Record<string, string> = {}, method = 'GET') =>
      send(`${base}${path}`, { method, headers: { host: 'app.example.com', ...headers } });
    const echoed = (r: { json: Record<string, unknown> | undefined }) => r.json as unknown as Echoed;

    it('answers an API client without a session 401 with WWW-Authenticate and a JSON body, and the upstream sees nothing', async () => {
      const hits = upstream.hits;
      const r = await get('/inventory', { accept: 'application/json' });
      assert.equal(r.status, 401, log);
      assert.match(String(r.headers['www-authenticate']), /^Bearer realm="portcullis"/);
      assert.equal(r.json?.error, 'invalid_session');
      assert.equal(upstream.hits, hits);
    });

    it('sends a browser without a session to the login page with its URL to come back to', async () => {
      const r = await get('/inventory?x=1', { accept: BROWSER });
      assert.equal(r.status, 302);
      assert.equal(r.headers.location, `/portcullis/login?rd=${encodeURIComponent('http://app.example.com/inventory?x=1')}`);
    });

    it('passes every dialect credential, and the upstream sees the user and roles', async () => {
      for (const headers of [
        { 'x-hm-authorization': bob },
        { cookie: `JSESSIONID=${bob}` },
        { 'x-auth-token': bob },
        { 'vmware-api-session-id': bob },
        { authorization: `Bearer ${bob}` },
      ] as Record<string, string>[]) {
        const r = await get('/inventory', headers);
        assert.equal(r.status, 200, `${JSON.stringify(Object.keys(headers))}: ${r.text}`);
        const e = echoed(r);
        assert.equal(e.url, '/inventory');
        assert.deepEqual(headerValues(e, 'remote-user'), ['bob']);
        assert.deepEqual(headerValues(e, 'remote-groups'), ['Appliance Administrator']);
        assert.deepEqual(headerValues(e, 'remote-auth-source'), ['local']);
      }
    });

    it('never lets a forged Remote-User (or any identity header) reach the upstream', async () => {
      const forged = Object.fromEntries(IDENTITY.map((n) => [n, 'mallory']));
      const withSession = echoed(await get('/inventory', { ...forged, 'x-hm-authorization': bob }));
      assert.deepEqual(headerValues(withSession, 'remote-user'), ['bob']);
      for (const n of IDENTITY) assert.ok(!headerValues(withSession, n).includes('mallory'), n);
      const anonymous = await get('/public/page', forged);
      assert.equal(anonymous.status, 200);
      for (const n of IDENTITY) assert.ok(!headerValues(echoed(anonymous), n).includes('mallory'), `${n} on an anonymous path`);
      const lower = echoed(await get('/public/page', { 'remote-user': 'mallory', 'REMOTE-USER': 'mallory' }));
      assert.ok(!headerValues(lower, 'remote-user').includes('mallory'), 'any spelling');
    });

    it('refuses a revoked session with 401, and an idle-expired one', async () => {
      const t = await login('bob', 'Bob-Pass-123');
      assert.equal((await get('/inventory', { 'x-hm-authorization': t })).status, 200);
      const id = (await h.p.sessions.authenticate(t, false))!.id;
      await h.p.sessions.revokeSession(id, { requestId: 't', clientAddress: '127.0.0.1', dialect: 'test' }, 'test');
      assert.equal((await get('/inventory', { 'x-hm-authorization': t })).status, 401);
      const u = await login('bob', 'Bob-Pass-123');
      clock.advance(24 * 60_000);
      assert.equal((await get('/inventory', { 'x-hm-authorization': u })).status, 401, 'idle timeout');
      alice = await login('alice', 'Alice-Pass-1');
      bob = await login('bob', 'Bob-Pass-123');
    });

    it('denies by role with 403 and lets the role holder through', async () => {
      const denied = await get('/admin/users', { 'x-hm-authorization': bob });
      assert.equal(denied.status, 403);
      assert.equal(denied.json?.error, 'forbidden');
      const ok = await get('/admin/users', { 'x-hm-authorization': alice });
      assert.equal(ok.status, 200);
      assert.deepEqual(headerValues(echoed(ok), 'remote-user'), ['alice']);
    });

    it('refuses an open redirect: a browser on a host outside the return domains gets a relative return URL only', async () => {
      const r = await send(`${base}/phish`, { headers: { host: 'evil.example.net', accept: BROWSER } });
      assert.equal(r.status, 302);
      assert.equal(r.headers.location, `/portcullis/login?rd=${encodeURIComponent('/phish')}`);
      assert.ok(!String(r.headers.location).includes('evil'));
    });

    it('hides the forward-auth endpoints from clients', async () => {
      const r = await get('/portcullis/auth/request', { 'x-original-url': 'http://app.example.com/', 'x-hm-authorization': alice });
      assert.equal(r.status, 404);
    });

    it('sends Portcullis\'s own pages and APIs (/portcullis/, /console/) to Portcullis, unchecked', async () => {
      const hits = upstream.hits;
      const api = await get('/portcullis/api/v1/sessions', { authorization: `Bearer ${alice}` });
      assert.equal(api.status, 200, api.text);
      const noAuth = await get('/portcullis/api/v1/sessions');
      assert.equal(noAuth.status, 401);
      assert.equal((noAuth.json?.error as { code?: string } | undefined)?.code, 'invalid_session', 'the admin API answered, not the proxy');
      await get('/console/');
      assert.equal(upstream.hits, hits, 'none of these reached the upstream');
    });

    it('keeps the original method and path for the upstream', async () => {
      const r = await get('/jobs/7?expand=1', { 'x-hm-authorization': bob }, 'DELETE');
      assert.equal(r.status, 200);
      assert.equal(echoed(r).method, 'DELETE');
      assert.equal(echoed(r).url, '/jobs/7?expand=1');
    });
  });
}
