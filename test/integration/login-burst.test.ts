import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { addUser, FAST_ARGON2, harness, tempDir, withPortcullis, type Harness } from '../helpers.js';

/*
 * The flood defence end to end, through the HTTP dialects (no timed benchmark:
 * bench/run.mjs B7 measures it): bursts of real users all get in, one source's
 * excess is refused before any store read, a known client is verified while
 * unknown sources hold every slot, refusals are audited in bulk, a refused
 * connection is read again only after its Retry-After, and the CLI lists and
 * releases sources.
 */

const ROLES = ['System Administrator'];
const pw = (i: number) => `Burst-Pass-${i}`;
const login = (h: Harness, username: string, password: string, ip: string, lxca = false) =>
  lxca
    ? h.app.inject({ method: 'POST', url: '/sessions', headers: { 'x-forwarded-for': ip }, payload: { UserId: username, password } })
    : h.app.inject({ method: 'POST', url: '/api/admin/v1/sessions', headers: { 'x-forwarded-for': ip }, payload: { username, password } });

describe('a burst of real users is not a flood', () => {
  let h: Harness;
  before(async () => {
    h = await harness({ overrides: { trustProxy: true } });
    for (let i = 0; i < 50; i++) await addUser(h, `user${i}`, pw(i), ROLES);
  });
  after(() => h.close());

  it('logs in 50 users at the same moment, each from its own address, all within 2 s', async () => {
    const t0 = performance.now();
    const all = await Promise.all(Array.from({ length: 50 }, (_, i) => login(h, `user${i}`, pw(i), `127.0.20.${i + 1}`, i % 2 === 1)));
    const ms = performance.now() - t0;
    assert.deepEqual([...new Set(all.map((r) => r.statusCode))], [200]);
    assert.ok(ms < 2000, `50 logins took ${ms.toFixed(0)} ms`);
  });

  it('logs in 150 at the same moment (50 users, 3 addresses each), all of them', async () => {
    const all = await Promise.all(Array.from({ length: 150 }, (_, i) => login(h, `user${i % 50}`, pw(i % 50), `127.0.21.${i + 1}`)));
    const codes = all.map((r) => r.statusCode);
    assert.equal(codes.filter((c) => c === 200).length, 150, `statuses: ${[...new Set(codes)].join(', ')}`);
  });
});

describe('a flood from many sources', () => {
  let h: Harness;
  before(async () => {
    // A long wait bound, so the unknown lane holds its hundreds of waiters however slow this machine is today.
    h = await harness({ overrides: { trustProxy: true, 'argon2.maxWaitMs': 30_000 } });
    await addUser(h, 'alice', 'Alice-Pass-1', ROLES);
  });
  after(() => h.close());

  it('refuses one source beyond 4 logins in progress at once, before any store read, with 503 and Retry-After', async () => {
    const store = h.p.stores.hot as unknown as Record<string, (...a: unknown[]) => unknown>;
    const reads = { guard: 0, account: 0 };
    const spy = (name: string, key: keyof typeof reads) => {
      const orig = store[name]!.bind(store);
      store[name] = (...a: unknown[]) => {
        reads[key]++;
        return orig(...a);
      };
      return () => (store[name] = orig);
    };
    const undo = [spy('getLoginFailures', 'guard'), spy('lastLoginFromSource', 'guard'), spy('getAccount', 'account')];
    try {
      const all = await Promise.all(Array.from({ length: 20 }, (_, i) => login(h, 'alice', `wrong-${i}`, '198.51.100.77', i % 2 === 1)));
      const refused = all.filter((r) => r.statusCode === 503);
      assert.equal(refused.length, 16, `statuses: ${all.map((r) => r.statusCode).join(',')}`);
      assert.equal(all.filter((r) => r.statusCode === 401 || r.statusCode === 403).length, 4, 'HCX 401, XClarity 403 (its default for a failed login)');
      for (const r of refused) assert.equal(r.headers['retry-after'], '1');
      assert.deepEqual(reads, { guard: 4 * 3, account: 4 }, 'only the four admitted logins read the store');
    } finally {
      undo.forEach((f) => f());
    }
    // Refusals are no failures: the source counted only the four it checked.
    assert.equal((await h.p.store.getLoginFailures('source', '198.51.100.77', h.clock.now(), 3_600_000)).count, 4);
  });

  it('verifies a known client while unknown sources hold every slot and the queue', async () => {
    // alice logged in from her workstation before the flood.
    assert.equal((await login(h, 'alice', 'Alice-Pass-1', '127.0.9.1')).statusCode, 200);
    const done: string[] = [];
    const flood = Array.from({ length: 400 }, (_, i) =>
      login(h, `guess${i}`, `guess-${i}`, `198.51.${100 + (i % 100)}.${1 + (i % 100)}`).then((r) => {
        done.push('attacker');
        return r.statusCode;
      }),
    );
    const queued = () => h.p.sources.inProgress().lanes?.new.queued ?? 0;
    const until = performance.now() + 10_000;
    while (queued() < 100 && performance.now() < until) await new Promise((r) => setTimeout(r, 1));
    const waiting = queued();
    assert.ok(waiting >= 100, `the unknown lane is full of waiters (${waiting})`);
    const mine = login(h, 'alice', 'Alice-Pass-1', '127.0.9.1').then((r) => {
      done.push('alice');
      return r.statusCode;
    });
    assert.equal(await mine, 200);
    const codes = await Promise.all(flood);
    const after = done.length - 1 - done.indexOf('alice');
    // In arrival order she would wait behind all of them; first in her lane, she passes them: only the verifications
    // running and those started while her request was parsed end before hers.
    assert.ok(after >= waiting - 25, `${after} attackers finished after alice, of ${waiting} waiting when she arrived`);
    assert.ok(codes.every((c) => c === 401 || c === 503));
  });

  it('audits refusals in bulk: one login.refused event per source and reason per window, with the count', async () => {
    const before = (await h.p.audit.query({ kind: 'login.' })).length;
    await h.p.audit.flushRefusals();
    const all = await Promise.all(Array.from({ length: 30 }, (_, i) => login(h, 'alice', `x-${i}`, '203.0.113.50')));
    const refused = all.filter((r) => r.statusCode === 503).length;
    assert.ok(refused >= 26, `${refused} refused`);
    const failuresBefore = (await h.p.audit.query({ kind: 'login.failure' })).length;
    assert.ok(failuresBefore - before <= 4 + 200, 'no failure row per refusal');
    assert.equal(await h.p.audit.flushRefusals(), 1);
    const rows = (await h.p.audit.query({ kind: 'login.refused' })).filter((e) => e.clientAddress === '203.0.113.50');
    assert.equal(rows.length, 1);
    assert.deepEqual([rows[0]!.detail.reason, rows[0]!.detail.count], ['source_limit', refused]);
    const [listed] = (await h.p.sources.listSources()).filter((s) => s.source === '203.0.113.50');
    assert.equal(listed?.refused, refused);
  });
});

describe('a refused connection is read again only after its Retry-After', () => {
  let h: Harness;
  let port: number;
  before(async () => {
    h = await harness({ overrides: { 'flood.perSourceLogins': 1 } });
    await addUser(h, 'bob', 'Bob-Pass-1', ROLES);
    await h.app.listen({ host: '127.0.0.1', port: 0 });
    port = (h.app.server.address() as { port: number }).port;
  });
  after(() => h.close());

  /** One keep-alive connection; `send` writes a request and resolves with the status of the next response and its time. */
  function conn() {
    const s = connect(port, '127.0.0.1');
    let buf = '';
    let waiting: ((v: { status: number; at: number }) => void) | undefined;
    s.setEncoding('latin1').on('data', (d: string) => {
      buf += d;
      const m = /^HTTP\/1\.1 (\d+)[^]*?\r\n\r\n/.exec(buf);
      if (!m) return;
      const len = Number(/content-length: (\d+)/i.exec(m[0])?.[1] ?? 0);
      if (buf.length < m[0].length + len) return;
      buf = buf.slice(m[0].length + len);
      waiting?.({ status: Number(m[1]), at: performance.now() });
    });
    return {
      send(body: string | undefined) {
        const req = body
          ? `POST /api/admin/v1/sessions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`
          : 'GET /api/admin/v1/sessions HTTP/1.1\r\nhost: x\r\n\r\n';
        return new Promise<{ status: number; at: number }>((resolve) => {
          waiting = resolve;
          s.write(req);
        });
      },
      close: () => s.destroy(),
    };
  }

  it('answers the 503 at once, then holds the next request of that connection for about a second; other connections go on', async () => {
    const a = conn();
    const b = conn();
    const c = conn();
    const body = JSON.stringify({ username: 'bob', password: 'wrong-password' });
    const [ra, rb] = await Promise.all([a.send(body), b.send(body)]);
    const refusedAt = Math.max(ra.at, rb.at);
    assert.deepEqual([ra.status, rb.status].sort(), [401, 503]);
    const refused = ra.status === 503 ? a : b;
    const t0 = performance.now();
    const [held, other] = await Promise.all([refused.send(undefined), c.send(undefined)]);
    assert.equal(held.status, 401, 'the held request is answered, not dropped');
    assert.ok(other.at - t0 < 500, `another connection is not held (${(other.at - t0).toFixed(0)} ms)`);
    assert.ok(held.at - refusedAt >= 800, `the next request on the refused connection waited ${(held.at - refusedAt).toFixed(0)} ms`);
    [a, b, c].forEach((x) => x.close());
  });
});

describe('portcullis source list and release', () => {
  const CLI = join(fileURLToPath(new URL('../../../', import.meta.url)), 'dist', 'cli.js');
  const dir = tempDir('portcullis-cli-source-');
  const configFile = join(dir.path, 'portcullis.yaml');
  before(() =>
    writeFileSync(configFile, `dataDir: ${JSON.stringify(join(dir.path, 'data'))}\nargon2:\n  memoryKiB: ${FAST_ARGON2.memoryKiB}\n  iterations: ${FAST_ARGON2.iterations}\n`),
  );
  after(() => dir.remove());

  const run = (args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const env: NodeJS.ProcessEnv = {};
      for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PORTCULLIS_')) env[k] = v;
      const child = spawn(process.execPath, [CLI, ...args, '--config', configFile], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
      child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });

  it('lists a throttled source with its failures and refusals and a locked account, releases the source, and refuses a non-address', async () => {
    await withPortcullis(configFile, async (p) => {
      await p.accounts.create({ username: 'erin', password: 'Erin-Pass-1', roles: ROLES });
      const ctx = (i: number) => ({ requestId: `r${i}`, clientAddress: `198.51.100.${i < 10 ? 9 : i}`, dialect: 'hcx' });
      // Ten failures from one address throttle it; twenty across addresses lock erin.
      for (let i = 0; i < 20; i++) await p.sessions.login({ provider: 'local', username: 'erin', password: `wrong-${i}`, requiredRoles: 'any' }, ctx(i));
      p.audit.tallyRefusal('198.51.100.9', 'source_limit', 'hcx');
      p.audit.tallyRefusal('198.51.100.9', 'source_limit', 'hcx');
    });
    const list = await run(['source', 'list', '--json']);
    assert.equal(list.code, 0, list.stderr);
    const j = JSON.parse(list.stdout) as { sources: Record<string, unknown>[]; lockedAccounts: Record<string, unknown>[] };
    assert.deepEqual(
      { source: j.sources[0]!.source, failures: j.sources[0]!.failures, throttled: j.sources[0]!.throttled, refused: j.sources[0]!.refused },
      { source: '198.51.100.9', failures: 10, throttled: true, refused: 2 },
    );
    assert.deepEqual(j.lockedAccounts.map((a) => [a.username, a.failures]), [['erin', 20]]);
    const text = await run(['source', 'list']);
    assert.match(text.stdout, /^198\.51\.100\.9\s+throttled\s+10\s+2\s+\d{4}-/m);
    assert.match(text.stdout, /^erin\s+20\s+\d{4}-/m);

    const rel = await run(['source', 'release', '198.51.100.9']);
    assert.equal(rel.code, 0, rel.stderr);
    assert.equal(rel.stdout, 'source 198.51.100.9 released\n');
    const after = JSON.parse((await run(['source', 'list', '--json'])).stdout) as { sources: Record<string, unknown>[] };
    assert.deepEqual(after.sources.find((s) => s.source === '198.51.100.9'), { source: '198.51.100.9', failures: 0, throttled: false, throttledUntil: null, firstFailureAt: null, refused: 2 });
    assert.equal((await run(['source', 'release', '198.51.100.9'])).stdout, 'source 198.51.100.9 had no failures to forget\n');
    const bad = await run(['source', 'release', 'not-an-address']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /not an IPv4 address/);
    assert.doesNotMatch(bad.stderr, /\n\s+at /, 'no stack trace');
    await withPortcullis(configFile, async (p) => {
      const ev = await p.audit.query({ kind: 'source.release' });
      assert.equal(ev.length, 2);
      assert.equal(ev[0]!.detail.source, '198.51.100.9');
    });
  });
});
