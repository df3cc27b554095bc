import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import Database from 'better-sqlite3';
import { ManualClock } from '../../src/ports/clock.js';
import { addUser, harness, type Harness } from '../helpers.js';

/*
 * The HCX session check is answered before Fastify (src/http/app.ts, fastRoutes).
 * Over a real socket, its answers must be the Fastify route's: same status, same
 * headers, same body (but for the request id and time), same effect on the
 * session; every other case must reach the Fastify route. a query string on the
 * URL sends the same request through Fastify, for comparison.
 */

const PATH = '/api/admin/v1/sessions';
const VOLATILE_HEADERS = new Set(['date', 'content-length']);

describe('HCX session check on the fast path', () => {
  let h: Harness;
  let url: string;
  let clock: ManualClock;
  const alice = { username: 'alice', password: 'Alice-Pass-1' };
  let token = '';

  before(async () => {
    clock = new ManualClock(Date.UTC(2026, 10, 23, 9, 0, 0));
    h = await harness({ clock });
    await addUser(h, alice.username, alice.password, ['System Administrator']);
    await h.app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
    const login = await h.app.inject({ method: 'POST', url: PATH, payload: alice });
    token = String(login.headers['x-hm-authorization']);
  });

  after(async () => {
    await h.close();
  });

  async function get(path: string, headers: Record<string, string>) {
    const r = await fetch(`${url}${path}`, { headers });
    const body = await r.text();
    const hs: Record<string, string> = {};
    r.headers.forEach((v, k) => {
      if (!VOLATILE_HEADERS.has(k)) hs[k] = v;
    });
    return { status: r.status, headers: hs, body };
  }

  /** The body with the per-request values (request id, time) blanked. */
  function stable(body: string) {
    const j = JSON.parse(body);
    if (j.data?.user) j.data.user.transactionId = 'x';
    for (const k of ['timestamp', 'time', 'created']) if (k in j) j[k] = 'x';
    return j;
  }

  it('answers a valid token exactly as the Fastify route does (status, headers, body)', async () => {
    const before = { ...h.app.fastPath };
    const fast = await get(PATH, { 'x-hm-authorization': token });
    assert.deepEqual(h.app.fastPath, { answered: before.answered + 1, handedOn: before.handedOn }, 'answered on the fast path');
    const slow = await get(`${PATH}?via=fastify`, { 'x-hm-authorization': token });
    assert.deepEqual(h.app.fastPath, { answered: before.answered + 1, handedOn: before.handedOn }, 'the comparison request went through Fastify');
    assert.equal(fast.status, 200, fast.body);
    assert.equal(slow.status, 200, slow.body);
    assert.deepEqual(fast.headers, slow.headers);
    // Byte for byte but for the time and request id: same keys, same order, same formatting.
    assert.equal(JSON.stringify(stable(fast.body)), JSON.stringify(stable(slow.body)));
    assert.equal(JSON.stringify(JSON.parse(fast.body)), fast.body, 'compact JSON, as JSON.stringify writes it');
    assert.equal(JSON.parse(fast.body).time, clock.now(), 'the time of this request');
    assert.notEqual(JSON.parse(fast.body).data.user.transactionId, JSON.parse(slow.body).data.user.transactionId, 'a fresh request id each time');
  });

  it('renews the idle timer as the route does, and not for X-NOT-USER-INPUT: checkSession', async () => {
    const s = (await h.p.sessions.listSessions({ username: alice.username }))[0]!;
    clock.advance(60_000);
    assert.equal((await get(PATH, { 'x-hm-authorization': token, 'x-not-user-input': 'checkSession' })).status, 200);
    assert.equal((await h.p.store.getSession(s.id))?.lastAccessedAt, s.lastAccessedAt, 'polling does not renew');
    assert.equal((await get(PATH, { 'x-hm-authorization': token })).status, 200);
    assert.equal((await h.p.store.getSession(s.id))?.lastAccessedAt, clock.now(), 'a user call renews');
  });

  for (const [what, headers] of [
    ['an unknown token', { 'x-hm-authorization': 'A'.repeat(43) }],
    ['a malformed token', { 'x-hm-authorization': 'not a token' }],
    ['no token', {}],
  ] as const) {
    it(`hands ${what} to the route, which answers as it always does`, async () => {
      const before = h.app.fastPath.handedOn;
      const fast = await get(PATH, headers);
      assert.equal(h.app.fastPath.handedOn, before + 1);
      const slow = await get(`${PATH}?via=fastify`, headers);
      assert.equal(fast.status, 401);
      assert.deepEqual(fast.headers, slow.headers);
      assert.deepEqual(stable(fast.body), stable(slow.body));
    });
  }

  it('hands a session that must change its password to the route (403 in the HCX envelope)', async () => {
    await addUser(h, 'bob', 'Bob-Pass-1234', ['System Administrator'], { mustChangePassword: true });
    const login = await h.app.inject({ method: 'POST', url: PATH, payload: { username: 'bob', password: 'Bob-Pass-1234' } });
    const bobToken = String(login.headers['x-hm-authorization']);
    const fast = await get(PATH, { 'x-hm-authorization': bobToken });
    const slow = await get(`${PATH}?via=fastify`, { 'x-hm-authorization': bobToken });
    assert.equal(fast.status, 403, fast.body);
    assert.deepEqual(stable(fast.body), stable(slow.body));
  });

  it('gives each session read again from the file its own user body: templates are shared only between identical users', async () => {
    const users = [
      { username: 'carol', password: 'Carol-Pass-1234', roles: ['System Administrator'], organizations: ['DEFAULT'] },
      { username: 'dave', password: 'Dave-Pass-12345', roles: ['System Administrator', 'Appliance Administrator'], organizations: ['DEFAULT'] },
      { username: 'erin', password: 'Erin-Pass-12345', roles: ['System Administrator'], organizations: ['DEFAULT', 'LAB'] },
    ];
    const tokens: string[] = [];
    for (const u of users) {
      await addUser(h, u.username, u.password, u.roles, { organizations: u.organizations });
      const login = await h.app.inject({ method: 'POST', url: PATH, payload: { username: u.username, password: u.password } });
      tokens.push(String(login.headers['x-hm-authorization']));
    }
    for (let round = 0; round < 3; round++) {
      // Another connection writes the file (as the CLI does): the store drops what it holds in memory, so every check reads its session again.
      const other = new Database(h.p.store.db.name);
      other.prepare('INSERT OR REPLACE INTO login_sources (username, source, last_success_at) VALUES (?, ?, ?)').run('nobody', '192.0.2.1', round);
      other.close();
      h.p.store.checkCoherence();
      for (const [i, u] of users.entries()) {
        const fast = await get(PATH, { 'x-hm-authorization': tokens[i]! });
        const slow = await get(`${PATH}?via=fastify`, { 'x-hm-authorization': tokens[i]! });
        assert.equal(fast.status, 200, fast.body);
        const user = JSON.parse(fast.body).data.user;
        assert.equal(user.username, u.username);
        assert.deepEqual(user.roles, u.roles);
        assert.deepEqual(user.organization, u.organizations);
        assert.equal(JSON.stringify(stable(fast.body)), JSON.stringify(stable(slow.body)));
      }
    }
  });

  it('hands an oversized head to the route, which answers 431 in the HCX envelope', async () => {
    const r = await get(PATH, { 'x-hm-authorization': token, 'x-padding': 'p'.repeat(h.config.http.maxHeaderBytes) });
    assert.equal(r.status, 431);
  });
});
