import assert from 'node:assert/strict';
import { runDialectContract, type Answer, type SessionHandle } from './contract.js';

/** `{result:"failure", messages:[{explanation, id, recovery:{text, URL}, text}]}` with an FQXHM id. */
export function assertLxcaError(res: Answer, _status: number): void {
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const body = JSON.parse(res.body) as { result: string; messages: Record<string, unknown>[] };
  assert.deepEqual(Object.keys(body), ['result', 'messages'], res.body);
  assert.equal(body.result, 'failure');
  assert.equal(body.messages.length, 1);
  const m = body.messages[0]!;
  assert.deepEqual(Object.keys(m), ['explanation', 'id', 'recovery', 'text']);
  assert.deepEqual(Object.keys(m.recovery as object), ['text', 'URL']);
  assert.match(String(m.id), /^FQXHM[A-Z]{2}\d{4}[A-Z]$/);
  assert.equal(typeof m.text, 'string');
  assert.equal(res.headers['set-cookie'], undefined, 'an error sets no cookie');
}

const cookie = (s: SessionHandle) => ({ cookie: `JSESSIONID=${s.token}; csrf=${s.extra.csrf ?? ''}` });
const stateChanging = (s: SessionHandle) => ({ ...cookie(s), 'x-csrf-token': s.extra.csrf ?? '' });
const loginBody = (c: { username: string; password: string }) => ({ UserId: c.username, password: c.password });

runDialectContract({
  label: 'XClarity',
  dialect: 'lxca',
  async session(h, c) {
    const res = await h.app.inject({ method: 'POST', url: '/sessions', payload: loginBody(c) });
    assert.equal(res.statusCode, 200, res.body);
    const jar = ([] as string[]).concat(res.headers['set-cookie'] ?? []).map((v) => v.split(';', 1)[0]!.split('='));
    const get = (n: string) => jar.find(([k]) => k === n)?.[1] ?? '';
    return { token: get('JSESSIONID'), extra: { csrf: get('csrf') } };
  },
  login: { method: 'POST', url: '/sessions', body: loginBody, required: ['UserId', 'password'], failStatus: 403, okStatus: 200 },
  jsonRoutes: [{ method: 'PUT', url: '/userAccountSettings', body: () => ({ LockoutTime: 60 }), required: ['LockoutTime'], headers: stateChanging }],
  check: { method: 'GET', url: '/sessions', headers: cookie },
  emptyJsonBody: [
    { method: 'GET', url: '/sessions', headers: cookie, okStatus: 200 },
    { method: 'DELETE', url: '/sessions', headers: stateChanging, okStatus: 200 },
  ],
  unknownPaths: ['/nothing-here', '/sessions/a/b'],
  wrongMethod: { method: 'PUT', url: '/sessions' },
  paramRoute: { method: 'DELETE', url: (id) => `/sessions/${id}`, headers: stateChanging },
  assertError: assertLxcaError,
});
