import assert from 'node:assert/strict';
import { cookieOf, hidden } from '../console/web-helpers.js';
import { runDialectContract, type Answer, type SessionHandle } from './contract.js';

/**
 * The console's envelopes: its JSON (`/console/api/...`, the shared error paths)
 * is `{"error":{"code","message"[,"detail"]}}`; its pages answer failures with an
 * HTML page carrying one alert. Neither sets a cookie on an error.
 */
export function assertConsoleError(res: Answer, _status: number): void {
  const type = String(res.headers['content-type']);
  if (type.startsWith('text/html')) {
    assert.match(res.body, /<p class="notice error" role="alert">/);
    return;
  }
  assert.match(type, /^application\/json/);
  const body = JSON.parse(res.body) as { error: { code: string; message: string; detail?: string } };
  assert.deepEqual(Object.keys(body), ['error'], res.body);
  assert.ok(Object.keys(body.error).every((k) => ['code', 'message', 'detail'].includes(k)), res.body);
  assert.match(body.error.code, /^[a-z_]+$/);
  assert.equal(typeof body.error.message, 'string');
  assert.equal(res.headers['set-cookie'], undefined, 'an error sets no cookie');
}

const cookie = (s: SessionHandle) => ({ cookie: `JSESSIONID=${s.token}; csrf=${s.extra.csrf ?? ''}` });

runDialectContract({
  label: 'Console',
  dialect: 'console',
  async session(h, c) {
    const get = await h.app.inject({ method: 'GET', url: '/portcullis/login' });
    const token = cookieOf(get, 'portcullis_login_csrf')!.value;
    const res = await h.app.inject({
      method: 'POST',
      url: '/portcullis/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `portcullis_login_csrf=${token}` },
      payload: new URLSearchParams({ csrf: hidden(get.body, 'csrf')!, username: c.username, password: c.password }).toString(),
    });
    assert.equal(res.statusCode, 303, res.body);
    return { token: cookieOf(res, 'JSESSIONID')!.value, extra: { csrf: cookieOf(res, 'csrf')!.value } };
  },
  check: { method: 'GET', url: '/console/api/session', headers: cookie },
  emptyJsonBody: [{ method: 'GET', url: '/console/api/session', headers: cookie, okStatus: 200 }],
  unknownPaths: ['/console/api/nothing-here', '/console/nothing/here'],
  wrongMethod: { method: 'POST', url: '/console/api/session' },
  assertError: assertConsoleError,
});
