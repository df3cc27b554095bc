import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ManualClock } from '../../src/ports/clock.js';
import { ADMIN_ROLES, addUser, harness, tempDir, type Harness } from '../helpers.js';

/* POST /portcullis/api/v1/introspect (RFC 7662): who may ask, what it answers, and that it never says why. */

const SECRET = 'inventory-service-secret-0123456789';
const FILE_SECRET = 'jobs-service-secret-from-a-file-42';
const PATH = '/portcullis/api/v1/introspect';

describe('token introspection (RFC 7662)', () => {
  let h: Harness;
  let clock: ManualClock;
  const dir = tempDir();
  let admin = '';
  let bob = '';

  const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
  const form = (fields: Record<string, string>, headers: Record<string, string> = {}) =>
    h.app.inject({ method: 'POST', url: PATH, headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, payload: new URLSearchParams(fields).toString() });
  const asService = (token: string) => form({ token, token_type_hint: 'access_token' }, { authorization: basic('inventory', SECRET) });
  async function login(username: string, password: string): Promise<string> {
    const r = await h.p.sessions.login({ provider: 'local', username, password, requiredRoles: 'any' }, { requestId: 't', clientAddress: '127.0.0.1', dialect: 'lxca' });
    assert.equal(r.kind, 'ok');
    return r.kind === 'ok' ? r.token : '';
  }

  before(async () => {
    writeFileSync(join(dir.path, 'jobs.secret'), `${FILE_SECRET}\n`);
    clock = new ManualClock(Date.UTC(2026, 10, 23, 9, 0, 0));
    h = await harness({
      clock,
      overrides: {
        'gateway.introspection.clients': [
          { id: 'inventory', secretSha256: createHash('sha256').update(SECRET).digest('hex') },
          { id: 'jobs', secretFile: join(dir.path, 'jobs.secret') },
        ],
      },
    });
    await addUser(h, 'root2', 'Root-Pass-123', ADMIN_ROLES);
    await addUser(h, 'bob', 'Bob-Pass-123', ['Appliance Administrator']);
    admin = await login('root2', 'Root-Pass-123');
    bob = await login('bob', 'Bob-Pass-123');
  });
  after(async () => {
    await h.close();
    dir.remove();
  });

  it('describes a live token to a configured client, without touching it', async () => {
    const s = (await h.p.sessions.authenticate(bob, false))!;
    clock.advance(5000);
    const r = await asService(bob);
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(r.headers['cache-control'], 'no-store');
    assert.deepEqual(r.json(), {
      active: true,
      username: 'bob',
      sub: 'bob',
      roles: ['Appliance Administrator'],
      token_type: 'Bearer',
      exp: Math.floor((s.lastAccessedAt + s.idleTimeoutMs) / 1000),
      iat: Math.floor(s.createdAt / 1000),
      sid: s.id,
      auth_source: 'local',
      dialect: 'lxca',
    });
    assert.equal((await h.p.sessions.getSession(s.id))!.lastAccessedAt, s.lastAccessedAt, 'asking is not activity');
  });

  it('accepts the client in the body (client_secret_post), a secret file, and JSON', async () => {
    assert.equal((await form({ token: bob, client_id: 'inventory', client_secret: SECRET })).json().active, true);
    assert.equal((await form({ token: bob }, { authorization: basic('jobs', FILE_SECRET) })).json().active, true);
    const j = await h.app.inject({ method: 'POST', url: PATH, headers: { authorization: basic('inventory', SECRET) }, payload: { token: bob } });
    assert.equal(j.json().active, true);
  });

  it('lets an administrator session ask, not another user', async () => {
    assert.equal((await form({ token: bob }, { authorization: `Bearer ${admin}` })).json().active, true);
    const r = await form({ token: admin }, { authorization: `Bearer ${bob}` });
    assert.equal(r.statusCode, 403);
    assert.equal(r.json().error, 'forbidden');
  });

  it('refuses an unknown client, a wrong secret and no authentication alike: 401 invalid_client', async () => {
    const refused: Record<string, string>[] = [{ authorization: basic('inventory', 'wrong-secret') }, { authorization: basic('nobody', SECRET) }, {}, { authorization: 'Bearer nope' }];
    for (const headers of refused) {
      const r = await form({ token: bob }, headers);
      assert.equal(r.statusCode, 401, JSON.stringify(headers));
      assert.deepEqual(r.json(), { error: 'invalid_client', error_description: 'Client authentication failed.' });
      assert.match(String(r.headers['www-authenticate']), /^Basic realm=/);
    }
  });

  it('answers only {"active": false} for an unknown, malformed, revoked, expired or must-change token', async () => {
    await addUser(h, 'carol', 'Carol-Pass-1', ['Appliance Administrator'], { mustChangePassword: true });
    const carol = await login('carol', 'Carol-Pass-1');
    const revoked = await login('bob', 'Bob-Pass-123');
    const rs = (await h.p.sessions.authenticate(revoked, false))!;
    await h.p.sessions.revokeSession(rs.id, { requestId: 't', clientAddress: '127.0.0.1', dialect: 't' }, 't');
    for (const token of ['A'.repeat(43), 'not-a-token', '../../x', revoked, carol]) {
      const r = await asService(token);
      assert.equal(r.statusCode, 200);
      assert.deepEqual(r.json(), { active: false }, token);
    }
    const old = await login('bob', 'Bob-Pass-123');
    clock.advance(24 * 60_000);
    assert.deepEqual((await asService(old)).json(), { active: false }, 'idle-expired');
  });

  it('answers 400 invalid_request without a token', async () => {
    const r = await form({}, { authorization: basic('inventory', SECRET) });
    assert.equal(r.statusCode, 400);
    assert.equal(r.json().error, 'invalid_request');
  });

  it('refuses a secret file with a short secret at start, naming the key', async () => {
    writeFileSync(join(dir.path, 'short.secret'), 'short\n');
    await assert.rejects(harness({ overrides: { 'gateway.introspection.clients': [{ id: 'x', secretFile: join(dir.path, 'short.secret') }] } }), /gateway\.introspection\.clients\.0\.secretFile: the secret must be at least 16/);
  });
});
