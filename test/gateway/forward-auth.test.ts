import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { ManualClock } from '../../src/ports/clock.js';
import { addUser, harness, type Harness } from '../helpers.js';
import { send } from './http.js';

/*
 * The forward-auth endpoints over a real socket (so the fast path answers what it
 * can), each proxy's convention header by header: nginx auth_request, Traefik /
 * Caddy ForwardAuth, Envoy ext_authz. The real nginx and Caddy run in proxies.test.ts.
 */

const BROWSER = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

const RULES = [
  { name: 'health', path: '/healthz', access: 'anonymous' },
  { name: 'blocked', path: '/internal/**', access: 'deny' },
  { name: 'firmware writes', host: 'app.example.com', path: '/firmware/**', methods: ['POST', 'PUT'], access: 'roles', roles: ['System Administrator'] },
  { name: 'app', host: ['app.example.com', '*.apps.example.com'], access: 'authenticated' },
];

describe('forward-auth endpoints', () => {
  let h: Harness;
  let clock: ManualClock;
  let url: string;
  const tokens: Record<string, string> = {};

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
    await addUser(h, 'carol', 'Carol-Pass-1', ['Appliance Administrator'], { mustChangePassword: true });
    await h.app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
    tokens.alice = await login('alice', 'Alice-Pass-1');
    tokens.bob = await login('bob', 'Bob-Pass-123');
    tokens.carol = await login('carol', 'Carol-Pass-1');
  });

  after(async () => {
    await h.close();
  });

  async function ask(path: string, headers: Record<string, string>, method = 'GET') {
    const r = await send(`${url}${path}`, { method, headers });
    return { ...r, headers: new Headers(Object.entries(r.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v)] as [string, string])) };
  }
  const nginx = (original: string, headers: Record<string, string> = {}, method = 'GET') =>
    ask('/portcullis/auth/request', { 'x-original-url': original, 'x-original-method': method, ...headers });
  const traefik = (original: URL, headers: Record<string, string> = {}, method = 'GET') =>
    ask('/portcullis/auth/forward', {
      'x-forwarded-method': method,
      'x-forwarded-proto': original.protocol.slice(0, -1),
      'x-forwarded-host': original.host,
      'x-forwarded-uri': original.pathname + original.search,
      'x-forwarded-for': '192.0.2.7',
      ...headers,
    });

  describe('nginx auth_request (/portcullis/auth/request)', () => {
    it('answers 200 with the user and roles for a valid HCX token, on the fast path', async () => {
      const before = h.app.fastPath.answered;
      const r = await nginx('https://app.example.com/inventory', { 'x-hm-authorization': tokens.alice! });
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('remote-user'), 'alice');
      assert.equal(r.headers.get('remote-groups'), 'System Administrator');
      assert.equal(r.headers.get('remote-name'), 'alice');
      assert.equal(r.headers.get('remote-auth-source'), 'local');
      assert.match(r.headers.get('remote-session-id') ?? '', /^[a-z2-7]{26}$/);
      assert.equal(r.text, '');
      assert.equal(h.app.fastPath.answered, before + 1, 'answered before Fastify');
    });

    it('answers the same on the Fastify route as on the fast path (security headers included)', async () => {
      const fast = await nginx('https://app.example.com/inventory', { 'x-hm-authorization': tokens.alice! });
      const slow = await ask('/portcullis/auth/request?via=fastify', { 'x-original-url': 'https://app.example.com/inventory', 'x-hm-authorization': tokens.alice! });
      const pick = (hs: Headers) => Object.fromEntries([...hs.entries()].filter(([k]) => !['date', 'connection', 'keep-alive'].includes(k)));
      assert.equal(slow.status, 200);
      assert.deepEqual(pick(slow.headers), pick(fast.headers));
    });

    it('accepts every dialect credential: HCX header, XClarity cookie, X-Auth-Token, vmware-api-session-id, Bearer', async () => {
      const t = tokens.bob!;
      const all: Record<string, string>[] = [
        { 'x-hm-authorization': t },
        { cookie: `other=1; JSESSIONID=${t}` },
        { 'x-auth-token': t },
        { 'vmware-api-session-id': t },
        { authorization: `Bearer ${t}` },
      ];
      for (const headers of all) {
        const r = await nginx('https://app.example.com/', headers);
        assert.equal(r.status, 200, JSON.stringify(headers));
        assert.equal(r.headers.get('remote-user'), 'bob');
      }
    });

    it('gives an API client 401 with WWW-Authenticate and a small JSON body', async () => {
      const r = await nginx('https://app.example.com/inventory', { accept: 'application/json' });
      assert.equal(r.status, 401);
      assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="portcullis"');
      assert.equal(r.json?.error, 'invalid_session');
      assert.equal(r.headers.get('location'), null);
    });

    it('gives a browser 401 with the login Location (the nginx config turns it into a 302)', async () => {
      const r = await nginx('https://app.example.com/inventory?x=1', { accept: BROWSER });
      assert.equal(r.status, 401);
      assert.equal(r.headers.get('location'), `/portcullis/login?rd=${encodeURIComponent('https://app.example.com/inventory?x=1')}`);
    });

    it('treats an unknown, malformed or revoked token as no session', async () => {
      for (const bad of ['A'.repeat(43), 'not a token', '']) {
        assert.equal((await nginx('https://app.example.com/', { 'x-hm-authorization': bad })).status, 401, bad);
      }
      const fresh = await login('bob', 'Bob-Pass-123');
      const id = (await h.p.sessions.authenticate(fresh, false))!.id;
      assert.equal((await nginx('https://app.example.com/', { 'x-hm-authorization': fresh })).status, 200);
      assert.ok(await h.p.sessions.revokeSession(id, { requestId: 't', clientAddress: '127.0.0.1', dialect: 'test' }, 'test'));
      assert.equal((await nginx('https://app.example.com/', { 'x-hm-authorization': fresh })).status, 401, 'revoked');
    });

    it('refuses by role with 403 (and lets the role holder through)', async () => {
      const bob = await nginx('https://app.example.com/firmware/update', { 'x-hm-authorization': tokens.bob! }, 'POST');
      assert.equal(bob.status, 403);
      assert.equal(bob.json?.error, 'forbidden');
      assert.equal((await nginx('https://app.example.com/firmware/update', { 'x-hm-authorization': tokens.alice! }, 'POST')).status, 200);
      // The rule names POST and PUT: a GET falls to the next rule.
      assert.equal((await nginx('https://app.example.com/firmware/update', { 'x-hm-authorization': tokens.bob! })).status, 200);
    });

    it('applies deny, allow-anonymous and the default deny', async () => {
      const anon = await nginx('https://app.example.com/healthz', { 'remote-user': 'mallory' });
      assert.equal(anon.status, 200);
      assert.equal(anon.headers.get('remote-user'), '', 'every identity header present and empty: the proxy overwrites what the client sent');
      assert.equal((await nginx('https://app.example.com/internal/x', { 'x-hm-authorization': tokens.alice! })).status, 403);
      assert.equal((await nginx('https://other.example.org/', { 'x-hm-authorization': tokens.alice! })).status, 403, 'no rule matches: deny');
      assert.equal((await nginx('https://x.apps.example.com/', { 'x-hm-authorization': tokens.alice! })).status, 200, 'wildcard host');
      assert.equal((await nginx('https://apps.example.com/', { 'x-hm-authorization': tokens.alice! })).status, 403, '*.apps.example.com is not apps.example.com');
    });

    it('matches rules on the normalised path: dot segments and encoded dots cannot skip a deny', async () => {
      for (const path of ['/healthz/../internal/x', '/healthz/%2e%2e/internal/x', '//internal/x', '/Internal/../internal/x']) {
        const r = await nginx(`https://app.example.com${path}`, { 'x-hm-authorization': tokens.alice! });
        assert.equal(r.status, 403, path);
      }
      assert.equal((await nginx('https://app.example.com/a%2f..%2finternal', { 'x-hm-authorization': tokens.alice! })).status, 403, 'an encoded slash with dots is refused');
    });

    it('does not renew the idle timer for X-NOT-USER-INPUT: checkSession, and does otherwise', async () => {
      const t = await login('bob', 'Bob-Pass-123');
      const id = (await h.p.sessions.authenticate(t, false))!.id;
      const sid = async () => (await h.p.sessions.getSession(id))!;
      const start = (await sid()).lastAccessedAt;
      clock.advance(60_000);
      assert.equal((await nginx('https://app.example.com/', { 'x-hm-authorization': t, 'x-not-user-input': 'checkSession' })).status, 200);
      assert.equal((await sid()).lastAccessedAt, start, 'polling does not touch');
      assert.equal((await nginx('https://app.example.com/', { 'x-hm-authorization': t })).status, 200);
      assert.equal((await sid()).lastAccessedAt, start + 60_000, 'a user request touches');
    });

    it('ends with the idle timeout like every dialect', async () => {
      const t = await login('bob', 'Bob-Pass-123');
      clock.advance(24 * 60_000);
      assert.equal((await nginx('https://app.example.com/', { 'x-hm-authorization': t })).status, 401);
      // Every session of this suite idled out with it: fresh ones for the tests after this one.
      tokens.alice = await login('alice', 'Alice-Pass-1');
      tokens.bob = await login('bob', 'Bob-Pass-123');
      tokens.carol = await login('carol', 'Carol-Pass-1');
    });

    it('refuses a must-change-password session except on the password-change path', async () => {
      const api = await nginx('https://app.example.com/inventory', { 'x-hm-authorization': tokens.carol! });
      assert.equal(api.status, 403);
      assert.equal(api.json?.error, 'password_change_required');
      const browser = await nginx('https://app.example.com/inventory', { cookie: `JSESSIONID=${tokens.carol!}`, accept: BROWSER });
      assert.equal(browser.status, 401);
      assert.match(browser.headers.get('location') ?? '', /^\/portcullis\/login\?rd=/);
      const pw = await nginx('https://app.example.com/userAccounts/passwordChange', { 'x-hm-authorization': tokens.carol! }, 'PUT');
      assert.equal(pw.status, 200);
    });

    it('refuses a cookie-borne cross-site write, not a header-borne one', async () => {
      const cookie = { cookie: `JSESSIONID=${tokens.bob!}`, 'sec-fetch-site': 'cross-site' };
      assert.equal((await nginx('https://app.example.com/jobs', cookie, 'POST')).status, 403);
      assert.equal((await nginx('https://app.example.com/jobs', cookie, 'GET')).status, 200);
      assert.equal((await nginx('https://app.example.com/jobs', { 'x-hm-authorization': tokens.bob!, 'sec-fetch-site': 'cross-site' }, 'POST')).status, 200);
    });

    it('answers a proxy that sends no original URL with 400 in the gateway envelope', async () => {
      const r = await ask('/portcullis/auth/request', { 'x-hm-authorization': tokens.alice! });
      assert.equal(r.status, 400);
      assert.equal(r.json?.error, 'invalid_input');
      assert.match(String(r.json?.error_description), /original/);
      const bad = await nginx('javascript:alert(1)', {});
      assert.equal(bad.status, 400);
    });
  });

  describe('Traefik ForwardAuth and Caddy forward_auth (/portcullis/auth/forward)', () => {
    it('reads X-Forwarded-Method, -Proto, -Host and -Uri', async () => {
      const ok = await traefik(new URL('https://app.example.com/firmware/update'), { 'x-hm-authorization': tokens.bob! }, 'PUT');
      assert.equal(ok.status, 403, 'the rule for PUT on app.example.com/firmware applies');
      const get = await traefik(new URL('https://app.example.com/firmware/update'), { 'x-hm-authorization': tokens.bob! }, 'GET');
      assert.equal(get.status, 200);
      assert.equal(get.headers.get('remote-user'), 'bob');
    });

    it('redirects a browser with 302 to the login page, the return URL rebuilt from the headers', async () => {
      const r = await traefik(new URL('https://app.example.com:8443/jobs?id=7'), { accept: BROWSER });
      assert.equal(r.status, 302);
      assert.equal(r.headers.get('location'), `/portcullis/login?rd=${encodeURIComponent('https://app.example.com:8443/jobs?id=7')}`);
    });

    it('never names a host outside the return domains in the return URL (no open redirect)', async () => {
      const r = await traefik(new URL('https://evil.example.net/phish'), { accept: BROWSER });
      // No rule covers evil.example.net, but a browser without a session is sent to log in first:
      // with a path only, which the login page resolves on the host it is served on.
      assert.equal(r.status, 403);
      const h2 = await harness({ overrides: { 'gateway.returnDomains': ['example.com'], 'gateway.loginUrl': 'https://login.example.com/portcullis/login' } });
      try {
        const r2 = await h2.app.inject({
          url: '/portcullis/auth/forward',
          headers: { 'x-forwarded-host': 'evil.example.net', 'x-forwarded-uri': '/x', 'x-forwarded-proto': 'https', accept: BROWSER },
        });
        assert.equal(r2.statusCode, 401, 'an absolute login URL on another host and a host outside the domains: no redirect at all');
        assert.equal(r2.headers.location, undefined);
        const r3 = await h2.app.inject({
          url: '/portcullis/auth/forward',
          headers: { 'x-forwarded-host': 'app.example.com', 'x-forwarded-uri': '/x', 'x-forwarded-proto': 'https', accept: BROWSER },
        });
        assert.equal(r3.statusCode, 302);
        assert.equal(r3.headers.location, `https://login.example.com/portcullis/login?rd=${encodeURIComponent('https://app.example.com/x')}`);
        const h3 = await harness({ overrides: {} });
        try {
          const r4 = await h3.app.inject({
            url: '/portcullis/auth/forward',
            headers: { 'x-forwarded-host': 'evil.example.net', 'x-forwarded-uri': '/x?y=1', 'x-forwarded-proto': 'https', accept: BROWSER },
          });
          assert.equal(r4.statusCode, 302);
          assert.equal(r4.headers.location, `/portcullis/login?rd=${encodeURIComponent('/x?y=1')}`, 'no return domains: a relative return URL only');
        } finally {
          await h3.close();
        }
      } finally {
        await h2.close();
      }
    });

    it('answers HEAD and a GET with a body it ignores', async () => {
      const r = await h.app.inject({
        method: 'GET',
        url: '/portcullis/auth/forward',
        headers: { 'x-forwarded-host': 'app.example.com', 'x-forwarded-uri': '/', 'x-hm-authorization': tokens.bob!, 'content-type': 'text/plain' },
        payload: 'ignored',
      });
      assert.equal(r.statusCode, 200);
    });
  });

  describe('Envoy ext_authz (/portcullis/auth/ext-authz/…)', () => {
    const envoy = (method: string, originalPath: string, headers: Record<string, string>) =>
      ask(`/portcullis/auth/ext-authz${originalPath}`, { host: 'app.example.com', 'x-forwarded-proto': 'https', ...headers }, method);

    it('takes the original path after the prefix, and the original method and Host', async () => {
      const before = h.app.fastPath.answered;
      const r = await envoy('GET', '/inventory?page=2', { 'x-hm-authorization': tokens.bob! });
      assert.equal(r.status, 200);
      assert.equal(h.app.fastPath.answered, before + 1, 'a GET check on the fast path');
      assert.equal(r.headers.get('remote-user'), 'bob');
      assert.equal((await envoy('POST', '/firmware/x', { 'x-hm-authorization': tokens.bob!, 'content-length': '0' })).status, 403);
      assert.equal((await envoy('POST', '/firmware/x', { 'x-hm-authorization': tokens.alice!, 'content-length': '0' })).status, 200);
      assert.equal((await envoy('GET', '/internal/a', { 'x-hm-authorization': tokens.alice! })).status, 403);
    });

    it('sends a browser a 302 and an API client a 401', async () => {
      const b = await envoy('GET', '/inventory', { accept: BROWSER });
      assert.equal(b.status, 302);
      assert.equal(b.headers.get('location'), `/portcullis/login?rd=${encodeURIComponent('https://app.example.com/inventory')}`);
      const a = await envoy('GET', '/inventory', {});
      assert.equal(a.status, 401);
      assert.equal(a.headers.get('www-authenticate'), 'Bearer realm="portcullis"');
    });
  });

  describe('unknown paths under /portcullis/auth/', () => {
    it('answer 404 in the gateway envelope', async () => {
      const r = await ask('/portcullis/auth/nope', {});
      assert.equal(r.status, 404);
      assert.equal(r.json?.error, 'no_route');
    });
  });
});
