import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { tempDir } from '../helpers.js';
import { admin, call, hcxCheck, hcxLogin, lxcaCheck, lxcaLogin, runCli, startNode, timeUntil, writeNodeConfig, type NodeProcess } from '../nodes.js';
import { havePostgres, haveRedis, startPostgres, startRedis, type TestPostgres, type TestRedis } from '../servers.js';

/*
 * Backends failing under a real node: Redis killed and frozen, PostgreSQL killed,
 * each mid-run. Checks must fail closed, fast, in each dialect's envelope (503 with
 * Retry-After); /readyz must say not ready; the node must recover by itself when
 * the server returns; nothing committed before the crash may be lost.
 */

const missing = havePostgres() ?? haveRedis();
const pw = () => `Pw-${randomBytes(9).toString('base64url')}`;
/** The longest a check may take while a backend is down or frozen: Redis's command timeout (1 s) plus slack for a loaded machine. */
const FAIL_FAST_MS = 2500;
/** Longer than the node's session cache (500 ms): what it read before the fault is no longer trusted. */
const CACHE_AGE_MS = 700;
const RECOVERY_LIMIT_MS = 15_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function assertHcx503(r: { status: number; headers: Headers; body: string; ms: number }) {
  assert.equal(r.status, 503, r.body);
  assert.ok(Number(r.headers.get('retry-after')) >= 1, 'Retry-After');
  assert.ok(r.ms < FAIL_FAST_MS, `answered in ${r.ms.toFixed(0)} ms`);
  const body = JSON.parse(r.body);
  assert.equal(typeof body, 'object');
  assert.ok(!/at .*\.js:\d+/.test(r.body), 'no stack trace');
}

describe('faults: PostgreSQL + Redis under a running node', { skip: missing }, () => {
  const dir = tempDir('portcullis-faults-');
  let pg: TestPostgres;
  let redis: TestRedis;
  let node: NodeProcess;
  const root = { username: 'root', password: pw() };
  const alice = { username: 'alice', password: pw() };
  let rootToken = '';

  before(async () => {
    [pg, redis] = await Promise.all([startPostgres(), startRedis()]);
    const config = writeNodeConfig(dir.path, {
      store: 'postgres',
      sessions: 'redis',
      postgres: { url: await pg.newDatabase() },
      redis: { url: await redis.newDatabase() },
    });
    runCli(config, ['user', 'add', root.username, '--role', 'System Administrator', '--password-stdin'], root.password);
    runCli(config, ['user', 'add', alice.username, '--role', 'System Administrator', '--password-stdin'], alice.password);
    node = await startNode(config);
    rootToken = (await hcxLogin(node, root.username, root.password)).token;
  });

  after(async () => {
    await node?.stop();
    await Promise.all([pg?.destroy(), redis?.destroy()]);
    dir.remove();
  });

  it('reports ready while every backend answers', async () => {
    const r = await call(`${node.url}/readyz`);
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(r.json(), { status: 'ready', store: 'postgres + redis', backends: [{ backend: 'postgres', ok: true }, { backend: 'redis', ok: true }] });
  });

  it('Redis killed: checks fail closed with 503 + Retry-After in each envelope, /readyz says not ready; back by itself with every session', async () => {
    const h = await hcxLogin(node, alice.username, alice.password);
    const l = await lxcaLogin(node, alice.username, alice.password);
    assert.equal(h.status, 200, h.body);
    assert.equal(l.status, 200, l.body);

    await redis.stop('SIGKILL');
    await sleep(CACHE_AGE_MS);
    assertHcx503(await hcxCheck(node, h.token));
    const lx = await lxcaCheck(node, l.cookie);
    assert.equal(lx.status, 503, lx.body);
    assert.match(lx.body, /FQXHMSE\d{4}J/, 'XClarity message envelope');
    assert.ok(lx.ms < FAIL_FAST_MS);
    const login = await hcxLogin(node, alice.username, alice.password);
    assert.equal(login.status, 503, 'a login cannot store its session: 503, not 401');
    const ready = await call(`${node.url}/readyz`);
    assert.equal(ready.status, 503);
    assert.deepEqual(ready.json().backends, [{ backend: 'postgres', ok: true }, { backend: 'redis', ok: false }]);

    await redis.start();
    const ms = await timeUntil(async () => (await hcxCheck(node, h.token)).status === 200, RECOVERY_LIMIT_MS);
    assert.ok(ms < RECOVERY_LIMIT_MS);
    assert.equal((await lxcaCheck(node, l.cookie)).status, 200, 'the XClarity session survived the Redis restart too');
    assert.equal((await call(`${node.url}/readyz`)).status, 200);
  });

  it('Redis frozen (SIGSTOP): a check answers 503 within the command timeout instead of hanging, then recovers', async () => {
    const h = await hcxLogin(node, alice.username, alice.password);
    assert.equal(h.status, 200, h.body);
    await redis.pause();
    try {
      await sleep(CACHE_AGE_MS);
      assertHcx503(await hcxCheck(node, h.token, 5000));
      const ready = await call(`${node.url}/readyz`, { timeoutMs: 5000 });
      assert.equal(ready.status, 503);
      assert.ok(ready.ms < 3000, `/readyz answered in ${ready.ms.toFixed(0)} ms`);
    } finally {
      redis.resume();
    }
    await timeUntil(async () => (await hcxCheck(node, h.token)).status === 200, RECOVERY_LIMIT_MS);
  });

  it('PostgreSQL killed: logins answer 503, sessions in Redis still work, audit rows committed before are all there after the restart', async () => {
    const before = await admin(node, rootToken, 'GET', '/audit?limit=99999');
    assert.equal(before.status, 200, before.body);
    const seqs = (before.json().events as { seq: number }[]).map((e) => e.seq);
    const h = await hcxLogin(node, alice.username, alice.password);
    assert.equal(h.status, 200);

    await pg.stop('SIGKILL');
    const login = await hcxLogin(node, alice.username, alice.password);
    assert.equal(login.status, 503, login.body);
    assert.ok(login.ms < 5000, `login answered in ${login.ms.toFixed(0)} ms`);
    assert.equal((await hcxCheck(node, h.token)).status, 200, 'a session check needs Redis only');
    const ready = await call(`${node.url}/readyz`);
    assert.equal(ready.status, 503);
    assert.deepEqual(ready.json().backends, [{ backend: 'postgres', ok: false }, { backend: 'redis', ok: true }]);

    await pg.start();
    await timeUntil(async () => (await hcxLogin(node, alice.username, alice.password)).status === 200, RECOVERY_LIMIT_MS);
    const afterRestart = await admin(node, rootToken, 'GET', '/audit?limit=99999');
    assert.equal(afterRestart.status, 200, afterRestart.body);
    const kept = new Set((afterRestart.json().events as { seq: number }[]).map((e) => e.seq));
    assert.deepEqual(seqs.filter((s) => !kept.has(s)), [], 'no audit row committed before the crash is lost');
    assert.ok(kept.size > seqs.length, 'the login before the crash and those after it were audited');
    assert.equal((await call(`${node.url}/readyz`)).status, 200);
  });
});

describe('faults: PostgreSQL alone (sessions in PostgreSQL)', { skip: havePostgres() }, () => {
  const dir = tempDir('portcullis-faults-pg-');
  let pg: TestPostgres;
  let node: NodeProcess;
  const alice = { username: 'alice', password: pw() };

  before(async () => {
    pg = await startPostgres();
    const config = writeNodeConfig(dir.path, { store: 'postgres', postgres: { url: await pg.newDatabase() } });
    runCli(config, ['user', 'add', alice.username, '--role', 'System Administrator', '--password-stdin'], alice.password);
    node = await startNode(config);
  });

  after(async () => {
    await node?.stop();
    await pg?.destroy();
    dir.remove();
  });

  it('PostgreSQL killed: checks fail closed with 503; after the restart every committed session is valid again', async () => {
    const h = await hcxLogin(node, alice.username, alice.password);
    const l = await lxcaLogin(node, alice.username, alice.password);
    assert.equal(h.status, 200, h.body);
    await pg.stop('SIGKILL');
    await sleep(CACHE_AGE_MS);
    const r = await hcxCheck(node, h.token);
    assert.equal(r.status, 503, r.body);
    assert.ok(Number(r.headers.get('retry-after')) >= 1);
    assert.equal((await lxcaCheck(node, l.cookie)).status, 503);
    await pg.start();
    await timeUntil(async () => (await hcxCheck(node, h.token)).status === 200, RECOVERY_LIMIT_MS);
    assert.equal((await lxcaCheck(node, l.cookie)).status, 200);
  });
});
