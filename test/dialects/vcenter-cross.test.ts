import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { LightMyRequestResponse } from 'fastify';
import { ManualClock } from '../../src/ports/clock.js';
import { addUser, harness, type Harness } from '../helpers.js';

/*
 * The vCenter session id is the one bearer token of the session store: a session
 * made through vCenter is used, listed and ended through HCX, XClarity and the
 * admin API, and the reverse. Then the vCenter check on the fast path.
 */

const START = Date.UTC(2026, 10, 23, 9, 0, 0);
const ADMIN = { username: 'vc-admin', password: 'Vc-Admin-Pass-1', roles: ['System Administrator'] };
const OPERATOR = { username: 'lxca-operator', password: 'Operator-Pass-1', roles: ['Operator'] };

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

function json(res: LightMyRequestResponse): any {
  return JSON.parse(res.body);
}

function cookieValue(res: LightMyRequestResponse, name: string): string | undefined {
  const v = res.headers['set-cookie'];
  const lines = v === undefined ? [] : Array.isArray(v) ? v : [v];
  const line = lines.find((c) => c.startsWith(`${name}=`));
  return line === undefined ? undefined : decodeURIComponent(line.split(';')[0]!.slice(name.length + 1));
}

describe('vCenter sessions shared with HCX, XClarity, Redfish and the admin API', () => {
  let h: Harness;

  before(async () => {
    h = await harness({ clock: new ManualClock(START), overrides: { 'vcenter.provider': 'local', 'vcenter.domains': { 'vsphere.local': 'local' } } });
    await addUser(h, ADMIN.username, ADMIN.password, ADMIN.roles);
    await addUser(h, OPERATOR.username, OPERATOR.password, OPERATOR.roles);
  });
  after(() => h.close());

  async function vcLogin(user = `${ADMIN.username}@vsphere.local`, password = ADMIN.password): Promise<string> {
    const res = await h.app.inject({ method: 'POST', url: '/api/session', headers: { authorization: basic(user, password) } });
    assert.equal(res.statusCode, 201, res.body);
    return JSON.parse(res.body) as string;
  }
  const vcGet = (token: string) => h.app.inject({ method: 'GET', url: '/api/session', headers: { 'vmware-api-session-id': token } });
  const hcxGet = (token: string) => h.app.inject({ method: 'GET', url: '/api/admin/v1/sessions', headers: { 'x-hm-authorization': token } });
  const lxcaGet = (token: string) => h.app.inject({ method: 'GET', url: '/sessions', headers: { cookie: `JSESSIONID=${token}` } });

  it('accepts a vCenter session id as the HCX x-hm-authorization token', async () => {
    const token = await vcLogin();
    const res = await hcxGet(token);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(json(res).data.user.username, ADMIN.username);
    assert.equal(res.headers['x-hm-authorization'], undefined, 'no new token');
  });

  it('accepts a vCenter session id as the XClarity session cookie, lists it as the caller\'s own, made through vcenter', async () => {
    const token = await vcLogin('VSPHERE.LOCAL\\vc-admin');
    const res = await lxcaGet(token);
    assert.equal(res.statusCode, 200, res.body);
    const own = json(res).response.filter((s: { isOwnSession: boolean }) => s.isOwnSession);
    assert.equal(own.length, 1);
    assert.equal(own[0].UserId, ADMIN.username);
    assert.ok(cookieValue(res, 'csrf'), 'XClarity hands the vCenter session its csrf cookie');
    const s = await h.p.sessions.authenticate(token, false);
    assert.equal(s?.dialect, 'vcenter');
    assert.equal(own[0].id, s?.id);
  });

  it('ends a vCenter session revoked through XClarity (DELETE /sessions/{id}): vCenter then answers 401', async () => {
    const token = await vcLogin();
    const admin = await h.app.inject({ method: 'POST', url: '/sessions', payload: { UserId: ADMIN.username, password: ADMIN.password } });
    const jar = `JSESSIONID=${cookieValue(admin, 'JSESSIONID')}; csrf=${cookieValue(admin, 'csrf')}`;
    const id = (await h.p.sessions.authenticate(token, false))!.id;
    const del = await h.app.inject({ method: 'DELETE', url: `/sessions/${id}`, headers: { cookie: jar, 'x-csrf-token': cookieValue(admin, 'csrf')! } });
    assert.equal(del.statusCode, 200, del.body);
    const after = await vcGet(token);
    assert.equal(after.statusCode, 401);
    assert.equal(json(after).error_type, 'UNAUTHENTICATED');
  });

  it('lists vCenter sessions in the admin API (dialect vcenter) and ends them there: one by id, then all of the user\'s', async () => {
    const one = await vcLogin();
    const two = await vcLogin('VSPHERE.LOCAL\\vc-admin');
    const bearer = { authorization: `Bearer ${one}` };
    const list = await h.app.inject({ method: 'GET', url: `/portcullis/api/v1/sessions?user=${ADMIN.username}`, headers: bearer });
    assert.equal(list.statusCode, 200, list.body);
    const id2 = (await h.p.sessions.authenticate(two, false))!.id;
    const entry = json(list).sessions.find((s: { id: string }) => s.id === id2);
    assert.equal(entry?.dialect, 'vcenter');
    assert.equal(entry?.username, ADMIN.username);
    const del = await h.app.inject({ method: 'DELETE', url: `/portcullis/api/v1/sessions/${id2}`, headers: bearer });
    assert.equal(del.statusCode, 200, del.body);
    assert.equal((await vcGet(two)).statusCode, 401);
    assert.equal((await vcGet(one)).statusCode, 200, 'only that session ended');
    const all = await h.app.inject({ method: 'DELETE', url: `/portcullis/api/v1/users/${ADMIN.username}/sessions`, headers: bearer });
    assert.equal(all.statusCode, 200, all.body);
    assert.equal((await vcGet(one)).statusCode, 401);
    assert.equal((await hcxGet(one)).statusCode, 401);
  });

  it('accepts an HCX token and an XClarity cookie as the vmware-api-session-id, on /api and /rest, and logs them out', async () => {
    const hcx = await h.app.inject({ method: 'POST', url: '/api/admin/v1/sessions', payload: { username: ADMIN.username, password: ADMIN.password } });
    const hcxToken = String(hcx.headers['x-hm-authorization']);
    const res = await vcGet(hcxToken);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(json(res).user, `${ADMIN.username}@vsphere.local`);
    const rest = await h.app.inject({ method: 'POST', url: '/rest/com/vmware/cis/session?~action=get', headers: { 'vmware-api-session-id': hcxToken } });
    assert.equal(rest.statusCode, 200, rest.body);
    assert.equal((await h.app.inject({ method: 'DELETE', url: '/api/session', headers: { 'vmware-api-session-id': hcxToken } })).statusCode, 204);
    assert.equal((await hcxGet(hcxToken)).statusCode, 401, 'a vCenter logout ends the HCX session');

    const lxca = await h.app.inject({ method: 'POST', url: '/sessions', payload: { UserId: ADMIN.username, password: ADMIN.password } });
    const cookie = cookieValue(lxca, 'JSESSIONID')!;
    assert.equal((await vcGet(cookie)).statusCode, 200);
  });

  it('accepts a vCenter session id as the Redfish X-Auth-Token, lists it in the SessionService, and ends it there', async () => {
    const token = await vcLogin();
    const id = (await h.p.sessions.authenticate(token, false))!.id;
    const xauth = { 'x-auth-token': token };
    const svc = await h.app.inject({ method: 'GET', url: '/redfish/v1/SessionService', headers: xauth });
    assert.equal(svc.statusCode, 200, svc.body);
    const members = json(await h.app.inject({ method: 'GET', url: '/redfish/v1/SessionService/Sessions', headers: xauth })).Members as { '@odata.id': string }[];
    assert.ok(members.some((m) => m['@odata.id'].endsWith(`/${id}`)), 'listed in the Sessions collection');
    const del = await h.app.inject({ method: 'DELETE', url: `/redfish/v1/SessionService/Sessions/${id}`, headers: xauth });
    assert.ok([200, 202, 204].includes(del.statusCode), del.body);
    assert.equal((await vcGet(token)).statusCode, 401, 'a Redfish logout ends the vCenter session');
  });

  it('accepts a Redfish X-Auth-Token as the vmware-api-session-id', async () => {
    const rf = await h.app.inject({ method: 'POST', url: '/redfish/v1/SessionService/Sessions', payload: { UserName: ADMIN.username, Password: ADMIN.password } });
    assert.equal(rf.statusCode, 201, rf.body);
    const res = await vcGet(String(rf.headers['x-auth-token']));
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(json(res).user, `${ADMIN.username}@vsphere.local`);
  });

  it('refuses through vCenter a session of a user without a vCenter role (made through XClarity): 403 UNAUTHORIZED', async () => {
    const lxca = await h.app.inject({ method: 'POST', url: '/sessions', payload: { UserId: OPERATOR.username, password: OPERATOR.password } });
    assert.equal(lxca.statusCode, 200, lxca.body);
    const res = await vcGet(cookieValue(lxca, 'JSESSIONID')!);
    assert.equal(res.statusCode, 403, res.body);
    assert.equal(json(res).error_type, 'UNAUTHORIZED');
  });
});

describe('vCenter session check on the fast path', () => {
  let h: Harness;
  let url: string;
  let token: string;

  before(async () => {
    h = await harness({ clock: new ManualClock(START), overrides: { 'vcenter.provider': 'local', 'vcenter.domains': { 'vsphere.local': 'local' } } });
    await addUser(h, ADMIN.username, ADMIN.password, ADMIN.roles);
    await addUser(h, OPERATOR.username, OPERATOR.password, OPERATOR.roles);
    await h.app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
    const res = await h.app.inject({ method: 'POST', url: '/api/session', headers: { authorization: basic(ADMIN.username, ADMIN.password) } });
    token = JSON.parse(res.body) as string;
  });
  after(() => h.close());

  async function get(path: string, headers: Record<string, string>) {
    const r = await fetch(`${url}${path}`, { headers, signal: AbortSignal.timeout(10_000) });
    const body = await r.text();
    const hs: Record<string, string> = {};
    r.headers.forEach((v, k) => {
      if (k !== 'date' && k !== 'content-length') hs[k] = v;
    });
    return { status: r.status, headers: hs, body };
  }

  it('answers a valid session id exactly as the Fastify route does (status, headers, body bytes)', async () => {
    const before = { ...h.app.fastPath };
    const fast = await get('/api/session', { 'vmware-api-session-id': token });
    assert.deepEqual(h.app.fastPath, { answered: before.answered + 1, handedOn: before.handedOn }, 'answered on the fast path');
    const slow = await get('/api/session?via=fastify', { 'vmware-api-session-id': token });
    assert.deepEqual(h.app.fastPath, { answered: before.answered + 1, handedOn: before.handedOn }, 'the comparison went through Fastify');
    assert.equal(fast.status, 200, fast.body);
    assert.equal(slow.status, 200, slow.body);
    assert.deepEqual(fast.headers, slow.headers);
    assert.equal(fast.body, slow.body);
    assert.deepEqual(Object.keys(JSON.parse(fast.body)), ['user', 'created_time', 'last_accessed_time']);
  });

  it('hands every failure to the Fastify route, which renders it in the vAPI envelope', async () => {
    const lxca = await h.app.inject({ method: 'POST', url: '/sessions', payload: { UserId: OPERATOR.username, password: OPERATOR.password } });
    const operatorToken = cookieValue(lxca, 'JSESSIONID')!;
    for (const [headers, status, type] of [
      [{}, 401, 'UNAUTHENTICATED'],
      [{ 'vmware-api-session-id': 'B'.repeat(43) }, 401, 'UNAUTHENTICATED'],
      [{ 'vmware-api-session-id': operatorToken }, 403, 'UNAUTHORIZED'],
    ] as const) {
      const before = { ...h.app.fastPath };
      const res = await get('/api/session', headers);
      assert.equal(res.status, status, res.body);
      assert.equal(JSON.parse(res.body).error_type, type);
      assert.equal(h.app.fastPath.answered, before.answered, 'not answered on the fast path');
    }
  });
});
