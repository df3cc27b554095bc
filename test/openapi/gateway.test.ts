import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { addUser, harness, type Harness } from '../helpers.js';
import { DriftChecker } from './drift.js';
import { send } from '../gateway/http.js';

/*
 * The gateway's OpenAPI document against the gateway's answers: every kind of
 * forward-auth and introspection answer injected through the harness (so the drift
 * check holds each to the document), the fast path's answer on a real socket held
 * to it by hand, and the checker failing answers that leave it.
 */

type Json = Record<string, any>;
const BROWSER = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
const SECRET = 'inventory-client-secret-1';
const RULES = [
  { name: 'public', path: '/public/**', access: 'anonymous' },
  { name: 'blocked', path: '/internal/**', access: 'deny' },
  { name: 'firmware', path: '/firmware/**', access: 'roles', roles: ['System Administrator'] },
  { name: 'app', host: 'app.example.com', access: 'authenticated' },
];

describe('the gateway document and the drift check', () => {
  let h: Harness;
  let url: string;
  const tokens: Record<string, string> = {};
  const login = async (username: string, password: string) => {
    const r = await h.app.inject({ method: 'POST', url: '/api/admin/v1/sessions', payload: { username, password } });
    assert.equal(r.statusCode, 200, r.body);
    return String(r.headers['x-hm-authorization']);
  };

  before(async () => {
    h = await harness({
      overrides: {
        'gateway.rules': RULES,
        'gateway.returnDomains': ['example.com'],
        'gateway.identityHeaders': 'oauth2-proxy',
        'gateway.introspection.clients': [{ id: 'inventory', secretSha256: createHash('sha256').update(SECRET).digest('hex') }],
      },
    });
    await addUser(h, 'alice', 'Alice-Pass-1', ['System Administrator']);
    await addUser(h, 'bob', 'Bob-Pass-123', ['Appliance Administrator']);
    await addUser(h, 'carol', 'Carol-Pass-1', ['Appliance Administrator'], { mustChangePassword: true });
    tokens.alice = await login('alice', 'Alice-Pass-1');
    tokens.bob = await login('bob', 'Bob-Pass-123');
    tokens.carol = await login('carol', 'Carol-Pass-1');
    await h.app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
  });
  after(() => h.close());

  const doc = () => h.app.openapi.document('gateway') as Json;
  const nginx = (original: string, headers: Record<string, string> = {}, method = 'GET') =>
    h.app.inject({ method, url: '/portcullis/auth/request', headers: { 'x-original-url': original, 'x-original-method': method, ...headers } });
  const forward = (path: string, headers: Record<string, string> = {}, method = 'GET') =>
    h.app.inject({ method, url: '/portcullis/auth/forward', headers: { 'x-forwarded-method': method, 'x-forwarded-proto': 'https', 'x-forwarded-host': 'app.example.com', 'x-forwarded-uri': path, ...headers } });
  const envoy = (path: string, headers: Record<string, string> = {}, method = 'GET') =>
    h.app.inject({ method, url: `/portcullis/auth/ext-authz${path}`, headers: { host: 'app.example.com', 'x-forwarded-proto': 'https', ...headers } });

  it('documents every check path for OpenAPI\'s methods, introspection, and the configured identity headers', () => {
    const d = doc();
    assert.deepEqual(Object.keys(d.paths).sort(), ['/portcullis/api/v1/introspect', '/portcullis/auth/ext-authz', '/portcullis/auth/ext-authz/{path}', '/portcullis/auth/forward', '/portcullis/auth/request']);
    for (const p of ['/portcullis/auth/request', '/portcullis/auth/forward', '/portcullis/auth/ext-authz', '/portcullis/auth/ext-authz/{path}']) {
      assert.deepEqual(Object.keys(d.paths[p]).sort(), ['delete', 'get', 'options', 'patch', 'post', 'put', 'trace'], p);
    }
    const get = d.paths['/portcullis/auth/request'].get;
    assert.deepEqual(Object.keys(get.responses['200'].headers), ['X-Auth-Request-User', 'X-Auth-Request-Groups', 'X-Auth-Request-Preferred-Username', 'X-Auth-Request-Email', 'X-Auth-Request-Session-Id', 'X-Auth-Request-Auth-Source']);
    assert.ok(get.parameters.some((p: Json) => p.name === 'X-Original-URL' && p.in === 'header'));
    assert.ok(d.paths['/portcullis/auth/forward'].get.responses['302'].headers.Location.required);
    assert.equal(d.paths['/portcullis/auth/request'].get.responses['302'], undefined, 'nginx answers a 401 with Location instead');
    assert.ok(d.paths['/portcullis/auth/ext-authz/{path}'].get.parameters.some((p: Json) => p.name === 'path' && p.in === 'path'));
    const ids = Object.values(d.paths).flatMap((ms) => Object.values(ms as Json).map((op) => (op as Json).operationId));
    assert.equal(new Set(ids).size, ids.length, 'operationIds are unique');
    const intro = d.paths['/portcullis/api/v1/introspect'].post;
    assert.ok(intro.requestBody.content['application/x-www-form-urlencoded'].schema.required.includes('token'));
    assert.equal(intro.responses['401'].content['application/json'].example.error, 'invalid_client');
    assert.equal(d.components.securitySchemes.basic, undefined, 'gateway.basic is off');
  });

  it('holds every kind of forward-auth answer to the document', async () => {
    const before = h.drift.checked.get('gateway') ?? 0;
    const auth = (t: string) => ({ authorization: `Bearer ${t}` });
    const answers: [string, Promise<{ statusCode: number }>, number][] = [
      ['nginx allowed', nginx('https://app.example.com/jobs', auth(tokens.bob!)), 200],
      ['nginx allowed POST', nginx('https://app.example.com/jobs', auth(tokens.bob!), 'POST'), 200],
      ['nginx anonymous', nginx('https://app.example.com/public/x'), 200],
      ['nginx API client', nginx('https://app.example.com/jobs'), 401],
      ['nginx browser', nginx('https://app.example.com/jobs', { accept: BROWSER }), 401],
      ['nginx browser, password change', nginx('https://app.example.com/jobs', { accept: BROWSER, ...auth(tokens.carol!) }), 401],
      ['nginx password change', nginx('https://app.example.com/jobs', auth(tokens.carol!)), 403],
      ['nginx denied', nginx('https://app.example.com/internal/x', auth(tokens.alice!)), 403],
      ['nginx role missing', nginx('https://app.example.com/firmware/1', auth(tokens.bob!)), 403],
      ['nginx misconfigured', nginx('app.example.com/jobs'), 400],
      ['forward allowed', forward('/jobs?x=1', { 'x-hm-authorization': tokens.bob! }), 200],
      ['forward browser', forward('/jobs', { accept: BROWSER }), 302],
      ['forward API client', forward('/jobs'), 401],
      ['forward misconfigured', h.app.inject({ method: 'GET', url: '/portcullis/auth/forward' }), 400],
      ['envoy allowed', envoy('/jobs/1?x', auth(tokens.bob!), 'DELETE'), 200],
      ['envoy root', envoy('', auth(tokens.bob!)), 200],
      ['envoy browser', envoy('/jobs', { accept: BROWSER }), 302],
      ['envoy API client', envoy('/a/b/c', {}, 'PUT'), 401],
      ['envoy denied', envoy('/internal/x', auth(tokens.alice!), 'PATCH'), 403],
    ];
    for (const [what, answer, status] of answers) assert.equal((await answer).statusCode, status, what);
    assert.equal(h.drift.checked.get('gateway'), before + answers.length, 'every answer was checked');
    // HEAD is GET's operation; QUERY (no place for it in OpenAPI 3.1) is still checked, the same way, and stays out of the document.
    assert.equal((await nginx('https://app.example.com/jobs', {}, 'HEAD')).statusCode, 401);
    // (Fastify wants a Content-Type on a QUERY, as on any method with a body: without one it is a 400 in the gateway's envelope.)
    const query = await envoy('/jobs', { 'content-type': 'text/plain' }, 'QUERY');
    assert.equal(query.statusCode, 401);
    assert.equal(JSON.parse(query.body).error, 'invalid_session');
    // A method Fastify does not route (WebDAV's): 405 in the gateway's envelope, as an unknown path is held to it.
    const propfind = await envoy('/dav/x', {}, 'PROPFIND');
    assert.equal(propfind.statusCode, 405);
    assert.equal(JSON.parse(propfind.body).error, 'method_not_allowed');
  });

  it('holds every kind of introspection answer to the document', async () => {
    const client = { authorization: `Basic ${Buffer.from(`inventory:${SECRET}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' };
    const intro = (headers: Record<string, string>, payload: string) => h.app.inject({ method: 'POST', url: '/portcullis/api/v1/introspect', headers, payload });
    const active = await intro(client, `token=${tokens.bob}`);
    assert.equal(active.statusCode, 200);
    assert.equal(JSON.parse(active.body).active, true);
    assert.deepEqual(JSON.parse((await intro(client, 'token=not-a-token')).body), { active: false });
    assert.equal((await intro({ 'content-type': 'application/json' }, JSON.stringify({ token: tokens.bob, client_id: 'inventory', client_secret: SECRET }))).statusCode, 200);
    assert.equal((await intro({ 'content-type': 'application/json', authorization: `Bearer ${tokens.alice}` }, JSON.stringify({ token: tokens.bob }))).statusCode, 200);
    assert.equal((await intro(client, 'token_type_hint=access_token')).statusCode, 400);
    assert.equal((await intro({ 'content-type': 'application/json' }, '[1]')).statusCode, 400);
    assert.equal((await intro({ 'content-type': 'application/x-www-form-urlencoded' }, `token=${tokens.bob}`)).statusCode, 401);
    assert.equal((await intro({ ...client, authorization: 'Basic aW52ZW50b3J5Ondyb25n' }, `token=${tokens.bob}`)).statusCode, 401);
    assert.equal((await intro({ 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${tokens.bob}` }, `token=${tokens.bob}`)).statusCode, 403);
    assert.equal((await intro({ ...client, 'content-type': 'text/plain' }, 'token')).statusCode, 415);
  });

  it('holds the answers on a real socket (the fast path and the routes) to the same document', async () => {
    const answered = h.app.fastPath.answered;
    const allowed = await send(`${url}/portcullis/auth/forward`, {
      headers: { 'x-forwarded-method': 'GET', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'app.example.com', 'x-forwarded-uri': '/jobs', authorization: `Bearer ${tokens.bob}` },
    });
    assert.equal(allowed.status, 200);
    assert.equal(h.app.fastPath.answered, answered + 1, 'answered on the fast path');
    assert.equal(allowed.headers['x-auth-request-user'], 'bob');
    const flat = (a: typeof allowed) => Object.fromEntries(Object.entries(a.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : v]));
    h.drift.check('GET', '/portcullis/auth/forward', { statusCode: allowed.status, headers: flat(allowed), body: allowed.text });
    const envoyAllowed = await send(`${url}/portcullis/auth/ext-authz/jobs/1`, { headers: { host: 'app.example.com', authorization: `Bearer ${tokens.bob}` } });
    assert.equal(envoyAllowed.status, 200);
    h.drift.check('GET', '/portcullis/auth/ext-authz/jobs/1', { statusCode: envoyAllowed.status, headers: flat(envoyAllowed), body: envoyAllowed.text });
    const browser = await send(`${url}/portcullis/auth/request`, { headers: { 'x-original-url': 'https://app.example.com/jobs', accept: BROWSER } });
    assert.equal(browser.status, 401);
    h.drift.check('GET', '/portcullis/auth/request', { statusCode: browser.status, headers: flat(browser), body: browser.text });
  });

  it('fails a gateway answer that leaves the document', async () => {
    const checker = new DriftChecker(h.app);
    const ok = await forward('/jobs', { authorization: `Bearer ${tokens.bob}` });
    const copy = { statusCode: ok.statusCode, headers: { ...ok.headers }, body: ok.body };
    checker.check('GET', '/portcullis/auth/forward', copy);
    const { 'x-auth-request-user': _user, ...noUser } = copy.headers;
    assert.throws(() => checker.check('GET', '/portcullis/auth/forward', { ...copy, headers: noUser }), /required header X-Auth-Request-User is missing/);
    assert.throws(() => checker.check('GET', '/portcullis/auth/forward', { ...copy, body: 'x' }), /no body is documented/);
    const redirect = await envoy('/jobs/1', { accept: BROWSER });
    const { location: _l, ...noLocation } = redirect.headers;
    assert.throws(() => checker.check('GET', '/portcullis/auth/ext-authz/jobs/1', { statusCode: 302, headers: noLocation, body: redirect.body }), /required header Location is missing/);
    // nginx has no 302: its proxy would not pass one on.
    assert.throws(() => checker.check('GET', '/portcullis/auth/request', { statusCode: 302, headers: redirect.headers, body: redirect.body }), /status 302 is not documented/);
    const intro = await h.app.inject({ method: 'POST', url: '/portcullis/api/v1/introspect', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${tokens.alice}` }, payload: `token=${tokens.bob}` });
    const extra = JSON.stringify({ ...JSON.parse(intro.body), email: 'bob@example.com' });
    assert.throws(() => checker.check('POST', '/portcullis/api/v1/introspect', { statusCode: 200, headers: intro.headers, body: extra }), /body does not match/);
    const denied = await nginx('https://app.example.com/internal/x', { authorization: `Bearer ${tokens.alice}` });
    const wrongCode = JSON.stringify({ ...JSON.parse(denied.body), error: 'invalid_session' });
    assert.throws(() => checker.check('GET', '/portcullis/auth/request', { statusCode: 403, headers: denied.headers, body: wrongCode }), /body does not match/);
  });
});

describe('the gateway document follows the configuration', () => {
  it('documents HTTP Basic and the authelia names when so configured', async () => {
    const h = await harness({ overrides: { 'gateway.basic.enabled': true } });
    try {
      const d = h.app.openapi.document('gateway') as Json;
      assert.equal(d.components.securitySchemes.basic.scheme, 'basic');
      const get = d.paths['/portcullis/auth/forward'].get;
      assert.ok(get.security.some((s: Json) => 'basic' in s));
      assert.ok('Remote-User' in get.responses['200'].headers);
      assert.match(get.responses['401'].headers['WWW-Authenticate'].schema.examples[0], /Basic realm/);
    } finally {
      await h.close();
    }
  });

  it('has no introspection operation when introspection is off', async () => {
    const h = await harness({ overrides: { 'gateway.introspection.enabled': false } });
    try {
      assert.equal((h.app.openapi.document('gateway') as Json).paths['/portcullis/api/v1/introspect'], undefined);
    } finally {
      await h.close();
    }
  });
});
