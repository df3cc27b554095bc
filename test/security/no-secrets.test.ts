import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DATABASE_FILE } from '../../src/service.js';
import { ADMIN_ROLES, addUser, harness, type Harness } from '../helpers.js';

const PASSWORD = 'Correct-Horse-7f3a9c';

describe('secrets never leave the service', () => {
  let h: Harness;
  const tokens: string[] = [];
  const csrfs: string[] = [];
  const bodies: string[] = [];

  before(async () => {
    h = await harness();
    await addUser(h, 'alice', PASSWORD, ADMIN_ROLES);
    const post = (url: string, payload: object) =>
      h.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(payload) });

    for (const r of [
      await post('/api/admin/v1/sessions', { username: 'alice', password: PASSWORD }),
      await post('/hybridity/api/sessions', { username: 'alice', password: PASSWORD }),
    ]) {
      assert.equal(r.statusCode, 200);
      tokens.push(String(r.headers['x-hm-authorization']));
      bodies.push(r.body);
    }
    const lx = await post('/sessions', { UserId: 'alice', password: PASSWORD });
    assert.equal(lx.statusCode, 200);
    const session = JSON.parse(lx.body).response.session;
    csrfs.push(session.csrf);
    const cookie = lx.cookies.find((c) => c.name === 'JSESSIONID');
    assert.ok(cookie);
    tokens.push(cookie.value);
    bodies.push(lx.body);

    // Failures, protected calls, logouts: everything that logs.
    bodies.push((await post('/api/admin/v1/sessions', { username: 'alice', password: PASSWORD + 'x' })).body);
    bodies.push((await post('/sessions', { UserId: 'nobody', password: PASSWORD })).body);
    bodies.push((await post('/api/admin/v1/sessions', { authType: 'vsphere', username: 'alice', password: PASSWORD })).body);
    const basic = 'Basic ' + Buffer.from(`alice:${PASSWORD}`).toString('base64');
    bodies.push((await h.app.inject({ method: 'GET', url: '/api/admin/v1/sessions', headers: { authorization: basic } })).body);
    bodies.push((await h.app.inject({ method: 'GET', url: '/api/admin/v1/sessions', headers: { 'x-hm-authorization': tokens[0]! } })).body);
    bodies.push((await h.app.inject({ method: 'GET', url: '/sessions', headers: { cookie: `JSESSIONID=${tokens[2]}` } })).body);
    bodies.push((await h.app.inject({ method: 'DELETE', url: '/api/admin/v1/sessions', headers: { 'x-hm-authorization': tokens[0]! } })).body);
    bodies.push(
      (await h.app.inject({ method: 'DELETE', url: '/sessions', headers: { cookie: `JSESSIONID=${tokens[2]}`, 'x-csrf-token': csrfs[0]! } })).body,
    );
    assert.equal(tokens.length, 3);
  });

  after(() => h.close());

  it('puts no password and no token in any response body', () => {
    for (const b of bodies) {
      assert.ok(!b.includes(PASSWORD), `password in body: ${b}`);
      for (const t of tokens) assert.ok(!b.includes(t), `token in body: ${b}`);
    }
  });

  it('writes no password, token or csrf token to any log line', () => {
    const logs = h.logger.text();
    assert.ok(h.logger.lines.length >= 8, 'the logins, failures and logouts were logged');
    assert.ok(!logs.includes(PASSWORD));
    for (const t of tokens) assert.ok(!logs.includes(t), 'token in logs');
    for (const c of csrfs) assert.ok(!logs.includes(c), 'csrf token in logs');
  });

  it('logs every login with the request id that HCX returns as transactionId', async () => {
    const r = await h.app.inject({
      method: 'POST',
      url: '/api/admin/v1/sessions',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ username: 'alice', password: PASSWORD }),
    });
    const tx = JSON.parse(r.body).data.user.transactionId as string;
    const line = h.logger.lines.find((l) => (l.obj as { event?: string; reqId?: string }).event === 'login.success' && (l.obj as { reqId?: string }).reqId === tx);
    assert.ok(line, 'login.success logged with reqId = transactionId');
  });

  it('stores neither the token nor the password in the database file', () => {
    h.p.store.flushTouches();
    h.p.store.db.pragma('wal_checkpoint(TRUNCATE)');
    const bytes = readFileSync(join(h.config.dataDir, DATABASE_FILE)).toString('latin1');
    assert.ok(bytes.includes('alice'), 'the file holds the data');
    assert.ok(!bytes.includes(PASSWORD));
    for (const t of tokens) assert.ok(!bytes.includes(t));
  });
});
