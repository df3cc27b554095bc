import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { ManualClock } from '../../src/ports/clock.js';
import { ADMIN_ROLES, addUser, harness, type Harness } from '../helpers.js';

/*
 * The Redfish session check (GET of the own Session with X-Auth-Token) is answered
 * before Fastify. Over a real socket its answers must be the Fastify route's: same
 * status, headers and body, same effect on the session; every other case must reach
 * the route. A query string (ignored by the route) sends the same request through
 * Fastify, for comparison.
 */

const SESSIONS = '/redfish/v1/SessionService/Sessions';
const VOLATILE_HEADERS = new Set(['date', 'content-length', 'connection', 'keep-alive']);

describe('Redfish session check on the fast path', () => {
  let h: Harness;
  let url: string;
  let clock: ManualClock;
  const alice = { username: 'rf-alice', password: 'Rf-Alice-Pass1' };
  const fresh = { username: 'rf-fresh', password: 'Rf-Fresh-Pass1' };

  before(async () => {
    clock = new ManualClock(Date.UTC(2026, 10, 23, 9, 0, 0));
    h = await harness({ clock });
    await addUser(h, alice.username, alice.password, ADMIN_ROLES);
    await addUser(h, fresh.username, fresh.password, ['Operator'], { mustChangePassword: true });
    await h.app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
  });

  after(() => h.close());

  async function login(u: { username: string; password: string }) {
    const res = await h.app.inject({ method: 'POST', url: SESSIONS, payload: { UserName: u.username, Password: u.password } });
    assert.equal(res.statusCode, 201, res.body);
    return { token: String(res.headers['x-auth-token']), location: String(res.headers.location) };
  }

  async function get(path: string, headers: Record<string, string>) {
    const r = await fetch(`${url}${path}`, { headers });
    const body = await r.text();
    const hs: Record<string, string> = {};
    r.headers.forEach((v, k) => {
      if (!VOLATILE_HEADERS.has(k)) hs[k] = v;
    });
    return { status: r.status, headers: hs, body };
  }

  it('answers the own session exactly as the Fastify route does (status, headers, body)', async () => {
    const me = await login(alice);
    const before = { ...h.app.fastPath };
    const fast = await get(me.location, { 'x-auth-token': me.token });
    assert.deepEqual(h.app.fastPath, { answered: before.answered + 1, handedOn: before.handedOn }, 'answered on the fast path');
    const slow = await get(`${me.location}?via=fastify`, { 'x-auth-token': me.token });
    assert.equal(h.app.fastPath.answered, before.answered + 1, 'the query string went through Fastify');
    assert.equal(fast.status, 200);
    assert.deepEqual(fast.headers, slow.headers);
    assert.equal(fast.body, slow.body);
    assert.equal(fast.headers['odata-version'], '4.0');
    assert.equal(fast.headers.allow, 'GET, HEAD, DELETE');
  });

  it('renews the idle timer like the route, and not for X-NOT-USER-INPUT: checkSession', async () => {
    const me = await login(alice);
    clock.advance(60_000);
    const polled = JSON.parse((await get(me.location, { 'x-auth-token': me.token, 'x-not-user-input': 'checkSession' })).body);
    const created = Date.parse(polled.CreatedTime);
    assert.equal(Date.parse(polled.ExpirationTime) - created, 24 * 60_000, 'polling does not renew');
    const used = JSON.parse((await get(me.location, { 'x-auth-token': me.token })).body);
    assert.equal(Date.parse(used.ExpirationTime) - created, 25 * 60_000, 'use renews');
  });

  it('hands every other case to the route: no or bad token, another session, a must-change session, a trailing slash', async () => {
    const admin = await login(alice);
    const other = await login(alice);
    const changing = await login(fresh);
    const cases: [string, Record<string, string>, number][] = [
      [admin.location, {}, 401],
      [admin.location, { 'x-auth-token': 'not-a-token' }, 401],
      [other.location, { 'x-auth-token': admin.token }, 200],
      [changing.location, { 'x-auth-token': changing.token }, 403],
      [`${admin.location}/`, { 'x-auth-token': admin.token }, 200],
    ];
    for (const [path, headers, status] of cases) {
      const before = h.app.fastPath.answered;
      const res = await get(path, headers);
      assert.equal(res.status, status, `${path}: ${res.body}`);
      assert.equal(h.app.fastPath.answered, before, `${path} went through Fastify`);
      assert.equal(res.headers['odata-version'], '4.0');
    }
  });
});
