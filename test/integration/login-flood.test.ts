import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ACCOUNT_FAILURE_WINDOW_MS } from '../../src/core/sessions.js';
import { addUser, harness, ADMIN_ROLES, type Harness } from '../helpers.js';

/*
 * A login storm beyond what hashing can take: the excess is refused at once with
 * 503 + Retry-After in the dialect's envelope, and a refused login is not a failed
 * login (no counter moves, nothing locks, nothing is audited as a failure).
 */

const USER = { username: 'flood-user', password: 'Flood-Pass-Word-1' };
const FLOOD = 150;

describe('a login flood beyond the hashing capacity', () => {
  let h: Harness;

  before(async () => {
    h = await harness({ overrides: { 'accountSettings.MaximumLoginFailures': 3 } });
    await addUser(h, USER.username, USER.password, ADMIN_ROLES);
  });
  after(() => h.close());

  it('refuses the excess at once with 503 and Retry-After, logs the rest in, and locks nothing', async () => {
    const t0 = performance.now();
    const answers = await Promise.all(
      Array.from({ length: FLOOD }, (_, i) => {
        const hcx = i % 2 === 0;
        const req = hcx
          ? h.app.inject({ method: 'POST', url: '/api/admin/v1/sessions', payload: USER })
          : h.app.inject({ method: 'POST', url: '/sessions', payload: { UserId: USER.username, password: USER.password } });
        return req.then((res) => ({ res, hcx, ms: performance.now() - t0 }));
      }),
    );
    const ok = answers.filter((a) => a.res.statusCode === 200);
    const refused = answers.filter((a) => a.res.statusCode === 503);
    assert.equal(ok.length + refused.length, FLOOD, `only 200 and 503 expected: ${[...new Set(answers.map((a) => a.res.statusCode))].join(', ')}`);
    assert.ok(ok.length > 0, 'what fits in the limit and the queue is served');
    assert.ok(refused.length >= FLOOD - 40, `the queue is bounded: ${refused.length} refused of ${FLOOD}`);

    for (const { res, hcx } of refused) {
      assert.equal(res.headers['retry-after'], '1');
      const body = JSON.parse(res.body) as Record<string, any>;
      if (hcx) assert.equal(body.errorCode, 'INTERNAL_SERVER_ERROR');
      else assert.equal(body.messages[0].id, 'FQXHMSE0117J');
    }
    // Refusals come before the work they refuse: none waits for a hash.
    const slowestRefusal = Math.max(...refused.map((a) => a.ms));
    const lastLogin = Math.max(...ok.map((a) => a.ms));
    assert.ok(slowestRefusal < lastLogin, `refusals took up to ${slowestRefusal.toFixed(0)} ms, logins up to ${lastLogin.toFixed(0)} ms`);

    const now = h.clock.now();
    const account = await h.p.store.getLoginFailures('account', USER.username, now, ACCOUNT_FAILURE_WINDOW_MS);
    assert.deepEqual([account.count, account.locked], [0, false]);
    assert.equal((await h.p.store.getLoginFailures('source', '127.0.0.1', now, ACCOUNT_FAILURE_WINDOW_MS)).count, 0);
    assert.equal((await h.p.audit.query({ username: USER.username, kind: 'login.failure' })).length, 0);
    assert.equal((await h.p.sessions.listSessions({ username: USER.username })).length, ok.length, 'one session per 200, none for a 503');

    // The account is usable as soon as the storm is over.
    const after = await h.app.inject({ method: 'POST', url: '/api/admin/v1/sessions', payload: USER });
    assert.equal(after.statusCode, 200, after.body);
  });
});
