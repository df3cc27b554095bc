import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../src/config.js';
import { compileRules, decide, normalizePath } from '../../src/dialects/gateway/rules.js';
import { originalRequest, prefersHtml, type OriginalRequest } from '../../src/dialects/gateway/original.js';
import { headerValue } from '../../src/dialects/gateway/routes.js';
import { cookieValue, findSessionToken } from '../../src/http/credentials.js';

const opts = { sessionCookie: 'JSESSIONID' };

describe('the one credential list (src/http/credentials.ts)', () => {
  it('finds each dialect\'s credential', () => {
    assert.deepEqual(findSessionToken({ 'x-hm-authorization': 'a' }, opts), { source: 'hcx', token: 'a' });
    assert.deepEqual(findSessionToken({ 'x-auth-token': 'b' }, opts), { source: 'redfish', token: 'b' });
    assert.deepEqual(findSessionToken({ 'vmware-api-session-id': 'c' }, opts), { source: 'vcenter', token: 'c' });
    assert.deepEqual(findSessionToken({ authorization: 'Bearer d' }, opts), { source: 'bearer', token: 'd' });
    assert.deepEqual(findSessionToken({ authorization: 'bearer  d ' }, opts), { source: 'bearer', token: 'd' });
    assert.deepEqual(findSessionToken({ cookie: 'a=1; JSESSIONID="e"; b=2' }, opts), { source: 'cookie', token: 'e' });
    assert.deepEqual(findSessionToken({ cookie: 'SID=f' }, { sessionCookie: 'SID' }), { source: 'cookie', token: 'f' });
  });
  it('takes the first in the documented order: headers before the cookie', () => {
    const all = { cookie: 'JSESSIONID=cookie', authorization: 'Bearer bearer', 'vmware-api-session-id': 'vc', 'x-auth-token': 'rf', 'x-hm-authorization': 'hcx' };
    assert.equal(findSessionToken(all, opts)?.source, 'hcx');
    const { 'x-hm-authorization': _a, ...noHcx } = all;
    assert.equal(findSessionToken(noHcx, opts)?.source, 'redfish');
    const { 'x-auth-token': _b, ...noRf } = noHcx;
    assert.equal(findSessionToken(noRf, opts)?.source, 'vcenter');
    const { 'vmware-api-session-id': _c, ...noVc } = noRf;
    assert.equal(findSessionToken(noVc, opts)?.source, 'bearer');
    const { authorization: _d, ...onlyCookie } = noVc;
    assert.equal(findSessionToken(onlyCookie, opts)?.source, 'cookie');
  });
  it('finds nothing in Basic, other schemes, other cookies or a header sent twice with different values', () => {
    assert.equal(findSessionToken({ authorization: 'Basic dTpw' }, opts), undefined);
    assert.equal(findSessionToken({ cookie: 'XJSESSIONID=x; JSESSIONIDX=y' }, opts), undefined);
    assert.equal(findSessionToken({ 'x-auth-token': ['a', 'b'] as unknown as string }, opts), undefined);
    assert.equal(findSessionToken({}, opts), undefined);
  });
  it('reads one cookie without parsing the rest', () => {
    assert.equal(cookieValue('a=1;JSESSIONID=x', 'JSESSIONID'), 'x');
    assert.equal(cookieValue('JSESSIONID=first; JSESSIONID=second', 'JSESSIONID'), 'first');
    assert.equal(cookieValue('novalue; JSESSIONID=', 'JSESSIONID'), '');
  });
});

describe('access rules', () => {
  const rules = compileRules(
    loadConfig({
      env: {},
      overrides: {
        'gateway.rules': [
          { name: 'health', path: ['/healthz', '/readyz'], access: 'anonymous' },
          { name: 'ui', host: '*.example.com', path: '/ui/*/edit', methods: ['post'], access: 'roles', roles: ['Editor'] },
          { name: 'api', host: 'api.example.com', path: '/v1/**', access: 'authenticated' },
        ],
      },
    }).gateway.rules,
  );
  const q = (method: string, hostname: string, path: string) => decide(rules, { method, hostname, path });
  it('the first match decides; nothing matching is deny', () => {
    assert.equal(q('GET', 'x', '/healthz').kind, 'anonymous');
    assert.equal(q('GET', 'x', '/healthz/more').kind, 'deny');
    assert.deepEqual(q('POST', 'a.example.com', '/ui/doc/edit'), { kind: 'session', rule: rules[1], roles: ['Editor'] });
    assert.equal(q('POST', 'a.example.com', '/ui/doc/sub/edit').kind, 'deny', '* stays within a segment');
    assert.equal(q('GET', 'a.example.com', '/ui/doc/edit').kind, 'deny', 'methods are upper-cased and compared');
    assert.equal(q('GET', 'api.example.com', '/v1').kind, 'session', '/v1/** covers /v1 itself');
    assert.equal(q('GET', 'api.example.com', '/v1/a/b').kind, 'session');
    assert.equal(q('GET', 'api.example.com', '/v10').kind, 'deny');
    assert.equal(q('GET', 'example.com', '/ui/x/edit').kind, 'deny');
  });
  it('normalises paths before matching, and refuses the ambiguous ones', () => {
    assert.equal(normalizePath('/a/./b/../c%20d?x=/../y'), '/a/c d');
    assert.equal(normalizePath('//a///b'), '/a/b');
    assert.equal(normalizePath('/a/%2e%2e/b'), '/b');
    assert.equal(normalizePath('/a%2f..%2fb'), undefined);
    assert.equal(normalizePath('/a%5c..'), undefined);
    assert.equal(normalizePath('/public/..;/admin'), undefined, 'a Java dot segment with a path parameter');
    assert.equal(normalizePath('/public/.;x=1/admin'), undefined);
    assert.equal(normalizePath('/admin;x=1/secret'), '/admin/secret', 'path parameters dropped, as Java servers drop them');
    assert.equal(normalizePath('/%zz'), undefined);
    assert.equal(normalizePath('relative'), undefined);
  });
  it('stops the start on a bad rule, naming it', () => {
    const bad = (rule: object, re: RegExp) =>
      assert.throws(() => loadConfig({ env: {}, overrides: { 'gateway.rules': [{ access: 'anonymous' }, rule] } }), (e: Error) => e instanceof ConfigError && re.test(e.message));
    bad({ name: 'admin', path: 'admin', access: 'authenticated' }, /gateway\.rules\.1: rule 2 "admin": path "admin" must start with \//);
    bad({ name: 'r', access: 'roles' }, /rule 2 "r": access: roles needs a roles list/);
    bad({ access: 'deny', roles: ['x'] }, /rule 2: roles are only for access: roles/);
    bad({ host: 'bad host!', access: 'deny' }, /rule 2: host "bad host!" must be/);
    bad({ methods: ['FETCH'], access: 'deny' }, /method "FETCH" is not an HTTP method/);
    bad({ access: 'allow' }, /gateway\.rules\.1\.access/);
    bad({ access: 'deny', colour: 'red' }, /gateway\.rules\.1/);
  });
  it('default: any live session, everywhere', () => {
    const d = compileRules(loadConfig({ env: {} }).gateway.rules);
    assert.equal(decide(d, { method: 'GET', hostname: 'x', path: '/' }).kind, 'session');
  });
});

describe('what the proxies send', () => {
  it('rebuilds the original request per convention', () => {
    assert.deepEqual(originalRequest('nginx', { 'x-original-url': 'https://App.Example.com:8443/a?b=1', 'x-original-method': 'post' }, 'GET', '/portcullis/auth/request'), {
      method: 'POST', proto: 'https', host: 'App.Example.com:8443', hostname: 'app.example.com', uri: '/a?b=1',
    });
    assert.deepEqual(originalRequest('forward', { 'x-forwarded-method': 'PUT', 'x-forwarded-proto': 'https, http', 'x-forwarded-host': 'a.example.com', 'x-forwarded-uri': '/x' }, 'GET', '/'), {
      method: 'PUT', proto: 'https', host: 'a.example.com', hostname: 'a.example.com', uri: '/x',
    });
    assert.deepEqual(originalRequest('envoy', { host: '[::1]:8080' }, 'DELETE', '/portcullis/auth/ext-authz/jobs/1?x'), {
      method: 'DELETE', proto: 'http', host: '[::1]:8080', hostname: '[::1]', uri: '/jobs/1?x',
    });
    assert.equal((originalRequest('envoy', { host: 'a' }, 'GET', '/portcullis/auth/ext-authz') as OriginalRequest).uri, '/', 'the prefix alone is /');
    for (const bad of [{ 'x-forwarded-host': 'a b', 'x-forwarded-uri': '/' }, { 'x-forwarded-host': 'a', 'x-forwarded-uri': 'x' }, { 'x-forwarded-host': 'a', 'x-forwarded-uri': '/ x' }, { 'x-forwarded-host': 'a', 'x-forwarded-uri': '/', 'x-forwarded-proto': 'ftp' }]) {
      assert.equal(typeof originalRequest('forward', bad, 'GET', '/'), 'string', JSON.stringify(bad));
    }
  });
  it('tells a browser from an API client by Accept', () => {
    const html = (accept: string | undefined, extra = {}) => prefersHtml({ ...(accept !== undefined && { accept }), ...extra });
    assert.equal(html('text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'), true);
    assert.equal(html('*/*'), false);
    assert.equal(html(undefined), false);
    assert.equal(html('application/json'), false);
    assert.equal(html('application/json, text/html;q=0.5'), false);
    assert.equal(html('text/html;q=0'), false);
    assert.equal(html('text/html', { 'x-requested-with': 'XMLHttpRequest' }), false);
  });
  it('keeps header values in printable ASCII', () => {
    assert.equal(headerValue('bob'), 'bob');
    assert.equal(headerValue('Jörg'), 'J%C3%B6rg');
    assert.equal(headerValue('a\r\nX-Evil: 1'), 'a%0D%0AX-Evil%3A%201');
  });
});
