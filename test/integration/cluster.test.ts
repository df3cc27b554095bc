import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { tempDir } from '../helpers.js';
import { admin, hcxCheck, hcxLogin, lxcaCheck, lxcaLogin, runCli, startNode, timeUntil, writeNodeConfig, type NodeProcess } from '../nodes.js';
import { havePostgres, haveRedis, startPostgres, startRedis, type TestPostgres, type TestRedis } from '../servers.js';

/*
 * Two real `portcullis serve` processes on the same real backends, as behind a
 * load balancer: sessions made on one are valid on the other; logout, revocation,
 * password change, lock and settings made on one are enforced by the other within
 * 1 s (timed); parallel wrong passwords spread over both nodes count exactly once each.
 */

const PROPAGATION_LIMIT_MS = 1000;
const missing = havePostgres() ?? haveRedis();

const pw = () => `Pw-${randomBytes(9).toString('base64url')}`;
const ROOT = { username: 'root', password: pw() };

for (const layout of ['postgres + redis', 'postgres'] as const) {
  describe(`two nodes sharing ${layout}`, { skip: missing }, () => {
    const dir = tempDir('portcullis-cluster-');
    let pg: TestPostgres;
    let redis: TestRedis | undefined;
    let a: NodeProcess;
    let b: NodeProcess;
    let config: string;
    let rootToken: string;

    before(async () => {
      pg = await startPostgres();
      if (layout === 'postgres + redis') redis = await startRedis();
      config = writeNodeConfig(dir.path, {
        // The parallel-failure case aims 20 at one account at once; the per-account limit on logins in progress would refuse most.
        flood: { perAccountLogins: 100 },
        store: 'postgres',
        sessions: redis ? 'redis' : 'postgres',
        postgres: { url: await pg.newDatabase() },
        ...(redis ? { redis: { url: await redis.newDatabase() } } : {}),
      });
      runCli(config, ['migrate']);
      runCli(config, ['user', 'add', ROOT.username, '--role', 'System Administrator', '--password-stdin'], ROOT.password);
      [a, b] = await Promise.all([startNode(config), startNode(config)]);
      const login = await hcxLogin(a, ROOT.username, ROOT.password);
      assert.equal(login.status, 200, login.body);
      rootToken = login.token;
    });

    after(async () => {
      await Promise.all([a?.stop(), b?.stop()]);
      await pg?.destroy();
      await redis?.destroy();
      dir.remove();
    });

    function addUser(name: string, password: string) {
      runCli(config, ['user', 'add', name, '--role', 'System Administrator', '--password-stdin'], password);
    }

    it('accepts on node B a session made on node A, through both dialects, and lists it on both', async () => {
      const alice = { username: 'alice', password: pw() };
      addUser(alice.username, alice.password);
      const h = await hcxLogin(a, alice.username, alice.password);
      assert.equal(h.status, 200, h.body);
      assert.equal((await hcxCheck(b, h.token)).status, 200);
      const l = await lxcaLogin(b, alice.username, alice.password);
      assert.equal(l.status, 200, l.body);
      assert.equal((await lxcaCheck(a, l.cookie)).status, 200);
      // The HCX token on the XClarity API of the other node (one session store for every dialect).
      assert.equal((await lxcaCheck(b, `JSESSIONID=${h.token}`)).status, 200);
      for (const node of [a, b]) {
        const list = await admin(node, rootToken, 'GET', '/sessions?user=alice');
        assert.equal(list.status, 200, list.body);
        assert.equal(JSON.stringify(list.json()).includes(l.id), true, 'the XClarity session is listed on both nodes');
      }
    });

    it('enforces on node B, within 1 s, a logout made on node A (B had the session in memory)', async (t) => {
      const bob = { username: 'bob', password: pw() };
      addUser(bob.username, bob.password);
      const h = await hcxLogin(a, bob.username, bob.password);
      assert.equal((await hcxCheck(b, h.token)).status, 200, 'B read the session (and may keep it in memory)');
      const out = await fetch(`${a.url}/api/admin/v1/sessions`, { method: 'DELETE', headers: { 'x-hm-authorization': h.token } });
      assert.equal(out.status, 200);
      assert.equal((await hcxCheck(a, h.token)).status, 401, 'the node that logged out refuses at once');
      const ms = await timeUntil(async () => (await hcxCheck(b, h.token)).status === 401, 3000);
      t.diagnostic(`took effect on the other node after ${ms.toFixed(0)} ms`);
      assert.ok(ms <= PROPAGATION_LIMIT_MS, `logout reached node B after ${ms.toFixed(0)} ms`);
    });

    it('enforces on node B\'s forward-auth check, within 1 s, a logout made on node A', async (t) => {
      // Its own user: every test of this suite creates a user no other test uses.
      const gwen = { username: 'gwen', password: pw() };
      addUser(gwen.username, gwen.password);
      const h = await hcxLogin(a, gwen.username, gwen.password);
      const check = (node: NodeProcess) =>
        fetch(`${node.url}/portcullis/auth/forward`, { headers: { 'x-forwarded-host': 'app.example.com', 'x-forwarded-uri': '/', 'x-hm-authorization': h.token } }).then(async (r) => (await r.arrayBuffer(), r.status));
      assert.equal(await check(b), 200, 'B read the session (and may keep it in memory)');
      const out = await fetch(`${a.url}/api/admin/v1/sessions`, { method: 'DELETE', headers: { 'x-hm-authorization': h.token } });
      assert.equal(out.status, 200);
      const ms = await timeUntil(async () => (await check(b)) === 401, 3000);
      t.diagnostic(`took effect on the other node's gateway after ${ms.toFixed(0)} ms`);
      assert.ok(ms <= PROPAGATION_LIMIT_MS, `logout reached node B's gateway after ${ms.toFixed(0)} ms`);
    });

    it('enforces on node A, within 1 s, a revocation made through the admin API of node B', async (t) => {
      const carol = { username: 'carol', password: pw() };
      addUser(carol.username, carol.password);
      const l = await lxcaLogin(a, carol.username, carol.password);
      assert.equal((await lxcaCheck(a, l.cookie)).status, 200);
      const r = await admin(b, rootToken, 'DELETE', `/sessions/${l.id}`);
      assert.ok(r.status === 200 || r.status === 204, r.body);
      const ms = await timeUntil(async () => (await lxcaCheck(a, l.cookie)).status === 401, 3000);
      t.diagnostic(`took effect on the other node after ${ms.toFixed(0)} ms`);
      assert.ok(ms <= PROPAGATION_LIMIT_MS, `revocation reached node A after ${ms.toFixed(0)} ms`);
    });

    it('ends on node B, within 1 s, the sessions of a user whose password was changed on node A', async (t) => {
      const dave = { username: 'dave', password: pw() };
      addUser(dave.username, dave.password);
      const old = await hcxLogin(b, dave.username, dave.password);
      assert.equal((await hcxCheck(b, old.token)).status, 200);
      const r = await admin(a, rootToken, 'PUT', `/users/${dave.username}/password`, { password: pw() });
      assert.ok(r.status >= 200 && r.status < 300, r.body);
      const ms = await timeUntil(async () => (await hcxCheck(b, old.token)).status === 401, 3000);
      t.diagnostic(`took effect on the other node after ${ms.toFixed(0)} ms`);
      assert.ok(ms <= PROPAGATION_LIMIT_MS, `password change reached node B after ${ms.toFixed(0)} ms`);
      assert.equal((await hcxLogin(b, dave.username, dave.password)).status, 401, 'the old password no longer works on the other node');
    });

    it('counts 20 parallel wrong passwords spread over both nodes exactly once each: one lock, enforced on both', async () => {
      const erin = { username: 'erin', password: pw() };
      addUser(erin.username, erin.password);
      // 20 = MaximumLoginFailures; each from its own address, so no source throttle stands in the way.
      const tries = await Promise.all(Array.from({ length: 20 }, (_, i) => hcxLogin(i % 2 ? a : b, erin.username, 'Wrong-Pass-1', `198.51.100.${i + 1}`)));
      assert.deepEqual(new Set(tries.map((t) => t.status)), new Set([401]));
      const audit = await admin(a, rootToken, 'GET', `/audit?user=${erin.username}`);
      assert.equal(audit.status, 200, audit.body);
      const events = audit.json().events as { kind: string }[];
      assert.equal(events.filter((e) => e.kind === 'login.failure').length, 20, 'every failure recorded once');
      assert.equal(events.filter((e) => e.kind === 'account.lock').length, 1, 'exactly one of them locked the account');
      for (const node of [a, b]) {
        assert.equal((await hcxLogin(node, erin.username, erin.password, '203.0.113.7')).status, 401, 'locked on both nodes, even with the right password');
      }
      const unlock = await admin(b, rootToken, 'POST', `/users/${erin.username}/unlock`);
      assert.ok(unlock.status >= 200 && unlock.status < 300, unlock.body);
      assert.equal((await hcxLogin(a, erin.username, erin.password, '203.0.113.7')).status, 200, 'unlocked on B, usable on A');
    });

    it('applies on node B a settings change made on node A at the next login', async () => {
      const frank = { username: 'frank', password: pw() };
      addUser(frank.username, frank.password);
      const set = await admin(a, rootToken, 'PUT', '/settings', { MaxConcurrentSessions: 1 });
      assert.equal(set.status, 200, set.body);
      try {
        assert.equal((await hcxLogin(b, frank.username, frank.password)).status, 200);
        assert.equal((await hcxLogin(a, frank.username, frank.password)).status, 403, 'the second session is refused on the other node');
      } finally {
        await admin(b, rootToken, 'PUT', '/settings', { MaxConcurrentSessions: 0 });
      }
    });
  });
}
