import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { ManualClock } from '../../src/ports/clock.js';
import { addUser, harness, type Harness } from '../helpers.js';

/*
 * One session store behind both dialects: a session made through one is usable,
 * and ends, through the other.
 */

const START = Date.UTC(2026, 10, 23, 9, 0, 0);
const ADMIN = { username: 'both-admin', password: 'Both-Admin-1', roles: ['System Administrator'] };
const OPERATOR = { username: 'lxca-operator', password: 'Operator-Pass-1', roles: ['Operator'] };

function json(res: LightMyRequestResponse): Record<string, any> {
  return JSON.parse(res.body) as Record<string, any>;
}

function cookieValue(res: LightMyRequestResponse, name: string): string | undefined {
  const v = res.headers['set-cookie'];
  const lines = v === undefined ? [] : Array.isArray(v) ? v : [v];
  const line = lines.find((c) => c.startsWith(`${name}=`));
  return line === undefined ? undefined : decodeURIComponent(line.split(';')[0]!.slice(name.length + 1));
}

async function hcxLogin(h: Harness, user: { username: string; password: string }): Promise<string> {
  const res = await h.app.inject({ method: 'POST', url: '/api/admin/v1/sessions', payload: { username: user.username, password: user.password } });
  assert.equal(res.statusCode, 200, res.body);
  return String(res.headers['x-hm-authorization']);
}

async function lxcaLogin(h: Harness, user: { username: string; password: string }): Promise<{ token: string; csrf: string; id: string }> {
  const res = await h.app.inject({ method: 'POST', url: '/sessions', payload: { UserId: user.username, password: user.password } });
  assert.equal(res.statusCode, 200, res.body);
  return { token: cookieValue(res, 'JSESSIONID')!, csrf: cookieValue(res, 'csrf')!, id: json(res).response.session.id };
}

function hcxGet(h: Harness, token: string) {
  return h.app.inject({ method: 'GET', url: '/api/admin/v1/sessions', headers: { 'x-hm-authorization': token } });
}

function lxcaGet(h: Harness, cookie: string) {
  return h.app.inject({ method: 'GET', url: '/sessions', headers: { cookie } });
}

describe('sessions shared by the HCX and XClarity dialects', () => {
  let h: Harness;
  let clock: ManualClock;

  before(async () => {
    clock = new ManualClock(START);
    h = await harness({ clock });
    await addUser(h, ADMIN.username, ADMIN.password, ADMIN.roles);
    await addUser(h, OPERATOR.username, OPERATOR.password, OPERATOR.roles);
  });
  after(() => h.close());

  it('accepts an HCX token as the XClarity session cookie on GET /sessions, which hands over a csrf cookie', async () => {
    const token = await hcxLogin(h, ADMIN);
    const res = await lxcaGet(h, `JSESSIONID=${token}`);
    assert.equal(res.statusCode, 200, res.body);
    const body = json(res);
    assert.equal(body.result, 'success');
    const own = body.response.filter((e: any) => e.isOwnSession);
    assert.equal(own.length, 1);
    assert.equal(own[0].UserId, ADMIN.username);
    const csrf = cookieValue(res, 'csrf');
    assert.ok(csrf && csrf.length > 0, 'a csrf cookie is set');
    const session = (await h.p.sessions.listSessions()).find((s) => s.id === own[0].id);
    assert.equal(csrf, session?.csrf);
    // The handed-over csrf is the one state-changing requests must carry.
    const out = await h.app.inject({ method: 'DELETE', url: '/sessions', headers: { cookie: `JSESSIONID=${token}; csrf=${csrf}`, 'x-csrf-token': csrf! } });
    assert.equal(out.statusCode, 200, out.body);
  });

  it('does not set the csrf cookie again when the request already carries the right one', async () => {
    const token = await hcxLogin(h, ADMIN);
    const first = await lxcaGet(h, `JSESSIONID=${token}`);
    const csrf = cookieValue(first, 'csrf')!;
    const second = await lxcaGet(h, `JSESSIONID=${token}; csrf=${csrf}`);
    assert.equal(second.statusCode, 200);
    assert.equal(cookieValue(second, 'csrf'), undefined);
  });

  it('accepts an XClarity session cookie as x-hm-authorization on HCX GET /api/admin/v1/sessions', async () => {
    const { token } = await lxcaLogin(h, ADMIN);
    const res = await hcxGet(h, token);
    assert.equal(res.statusCode, 200, res.body);
    const body = json(res);
    assert.equal(body.success, true);
    assert.equal(body.data.user.username, ADMIN.username);
    assert.deepEqual(body.data.user.roles, ADMIN.roles);
  });

  it('ends the session for XClarity when it logs out through HCX', async () => {
    const token = await hcxLogin(h, ADMIN);
    assert.equal((await lxcaGet(h, `JSESSIONID=${token}`)).statusCode, 200);
    const out = await h.app.inject({ method: 'DELETE', url: '/api/admin/v1/sessions', headers: { 'x-hm-authorization': token } });
    assert.equal(out.statusCode, 200, out.body);
    const res = await lxcaGet(h, `JSESSIONID=${token}`);
    assert.equal(res.statusCode, 401);
    assert.equal(json(res).result, 'failure');
  });

  it('ends the session for HCX when it logs out through XClarity', async () => {
    const me = await lxcaLogin(h, ADMIN);
    assert.equal((await hcxGet(h, me.token)).statusCode, 200);
    const out = await h.app.inject({ method: 'DELETE', url: '/sessions', headers: { cookie: `JSESSIONID=${me.token}; csrf=${me.csrf}`, 'x-csrf-token': me.csrf } });
    assert.equal(out.statusCode, 200, out.body);
    const res = await hcxGet(h, me.token);
    assert.equal(res.statusCode, 401);
    assert.equal(json(res).errorCode, 'INVALID_SESSION_TOKEN');
  });

  it('ends the session for HCX when an admin revokes it by id through XClarity', async () => {
    const token = await hcxLogin(h, ADMIN);
    const admin = await lxcaLogin(h, ADMIN);
    const listed = json(await lxcaGet(h, `JSESSIONID=${token}`)).response.find((e: any) => e.isOwnSession);
    const out = await h.app.inject({
      method: 'DELETE',
      url: `/sessions/${listed.id}`,
      headers: { cookie: `JSESSIONID=${admin.token}; csrf=${admin.csrf}`, 'x-csrf-token': admin.csrf },
    });
    assert.equal(out.statusCode, 200, out.body);
    assert.equal((await hcxGet(h, token)).statusCode, 401);
  });

  it('refuses, on the HCX API, a session opened through XClarity by a user without an HCX role (403 NOT_ENOUGH_PRIVILEGES)', async () => {
    // The same user is refused at the HCX login ...
    const direct = await h.app.inject({ method: 'POST', url: '/api/admin/v1/sessions', payload: { username: OPERATOR.username, password: OPERATOR.password } });
    assert.equal(direct.statusCode, 403);
    // ... so a token minted by the XClarity login must not open the HCX API either.
    const { token } = await lxcaLogin(h, OPERATOR);
    const res = await hcxGet(h, token);
    assert.equal(res.statusCode, 403, res.body);
    assert.equal(json(res).errorCode, 'NOT_ENOUGH_PRIVILEGES');
    assert.equal(json(res).error, 'Access Denied');
  });
});
