import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AdmissionController, AdmissionRefusal, KnownClients, type AdmissionOptions, type LoadProbe } from '../../src/core/admission.js';

/*
 * The login scheduler in the admission controller, step by step (no timer, a
 * hand-moved clock): known clients first, a cap per source, round-robin across
 * sources, the new lane's share, and waits bounded in seconds.
 */

const quiet: LoadProbe = { start() {}, stop() {}, sample: () => ({ delayMs: 0, interactive: 0 }) };

function deferred() {
  let resolve!: (v: string) => void;
  const promise = new Promise<string>((res) => (resolve = res));
  return { promise, resolve };
}

function setup(opts: Partial<AdmissionOptions> = {}) {
  let t = 1000;
  const a = new AdmissionController({ maxLimit: 2, initialLimit: 2, knownMinLimit: 2, maxQueue: 10_000, maxWaitMs: 5000, intervalMs: 0, now: () => t, probe: quiet, ...opts });
  return { a, advance: (ms: number) => (t += ms) };
}

const flush = () => new Promise<void>((r) => setImmediate(r));
const refusedFor = (reason: string) => (e: unknown) => e instanceof AdmissionRefusal && e.code === 'busy' && e.reason === reason;

describe('login scheduling: known clients first', () => {
  it('gives a known client the next verification while unknown sources hold every slot and fill the queue', async () => {
    const { a } = setup();
    const order: string[] = [];
    const running = new Map<string, ReturnType<typeof deferred>>();
    const task = (name: string) => () => {
      order.push(name);
      const d = deferred();
      running.set(name, d);
      return d.promise;
    };
    // 200 attackers from 50 sources (4 each, the cap): 2 verify, 198 wait.
    const attacks: Promise<unknown>[] = [];
    for (let i = 0; i < 200; i++) {
      const pass = a.admit({ source: `198.51.100.${i % 50}`, account: `guess${i}` }, false);
      attacks.push(pass.run(task(`attacker${i}`)).finally(() => pass.release()));
    }
    assert.deepEqual(a.laneStats().new, { queued: 198, started: 2 });
    const known = a.admit({ source: '192.0.2.9', account: 'alice' }, true);
    const mine = known.run(task('alice'));
    assert.equal(a.laneStats().known.queued, 1);
    running.get('attacker0')!.resolve('done');
    await flush();
    assert.equal(order[2], 'alice', `the first free slot goes to the known client: ${order.slice(0, 4).join(', ')}`);
    running.get('alice')!.resolve('ok');
    assert.equal(await mine, 'ok');
    for (const d of running.values()) d.resolve('x');
    a.close();
  });

  it('lets known clients use every thread even when the event loop has pushed the limit to its minimum', async () => {
    const { a } = setup({ initialLimit: 1, minLimit: 1 });
    const hold = deferred();
    const p1 = a.admit({ source: '198.51.100.1', account: 'x' }, false);
    void p1.run(() => hold.promise);
    const p2 = a.admit({ source: '198.51.100.2', account: 'y' }, false);
    const queuedNew = p2.run(async () => 'new');
    let knownRan = false;
    const k = a.admit({ source: '192.0.2.9', account: 'alice' }, true);
    await k.run(async () => (knownRan = true));
    assert.equal(knownRan, true, 'a known client verifies at once in the floor slot');
    assert.equal(a.laneStats().new.queued, 1, 'the unknown source still waits for the limit');
    hold.resolve('x');
    assert.equal(await queuedNew, 'new');
    a.close();
  });

  it('moves a login to the known lane when the store says the pair logged in before (promote), freeing its source', () => {
    const { a } = setup({ perSourceLimit: 1 });
    const first = a.admit({ source: '198.51.100.1', account: 'alice' }, false);
    assert.throws(() => a.admit({ source: '198.51.100.1', account: 'bob' }, false), refusedFor('source_limit'));
    first.promote();
    assert.equal(first.known, true);
    const other = a.admit({ source: '198.51.100.1', account: 'bob' }, false);
    first.release();
    other.release();
    assert.equal(a.laneStats().active, 0);
  });
});

describe('login scheduling: no source gets more than its share', () => {
  it('refuses the 5th login in progress from one source at once, counts it, and admits again once one ends', () => {
    const { a } = setup();
    const passes = Array.from({ length: 4 }, (_, i) => a.admit({ source: '198.51.100.7', account: `u${i}` }, false));
    assert.throws(() => a.admit({ source: '198.51.100.7', account: 'u5' }, false), refusedFor('source_limit'));
    assert.equal(a.laneStats().refusedBy.source_limit, 1);
    assert.equal(a.stats().refused, 1);
    // Another source and a known client of the same address are not held back by it.
    a.admit({ source: '198.51.100.8', account: 'u' }, false).release();
    a.admit({ source: '198.51.100.7', account: 'alice' }, true).release();
    passes[0]!.release();
    passes[0]!.release(); // idempotent
    a.admit({ source: '198.51.100.7', account: 'u6' }, false);
    assert.throws(() => a.admit({ source: '198.51.100.7', account: 'u7' }, false), refusedFor('source_limit'));
  });

  it('refuses the 5th login naming one account from unknown sources, so parallel guesses cannot outrun its lock', () => {
    const { a } = setup();
    const passes = Array.from({ length: 4 }, (_, i) => a.admit({ source: `198.51.100.${i}`, account: 'alice' }, false));
    assert.throws(() => a.admit({ source: '198.51.100.50', account: 'alice' }, false), refusedFor('account_limit'));
    // The owner, from a place she is known, is not held back; another account is not either.
    a.admit({ source: '192.0.2.9', account: 'alice' }, true).release();
    a.admit({ source: '198.51.100.50', account: 'bob' }, false).release();
    passes[1]!.promote(); // known after all: frees its place among alice's unknown logins
    a.admit({ source: '198.51.100.51', account: 'alice' }, false);
    assert.throws(() => a.admit({ source: '198.51.100.52', account: 'alice' }, false), refusedFor('account_limit'));
    assert.equal(a.laneStats().refusedBy.account_limit, 2);
  });

  it('caps one known client too, at its own (larger) limit', () => {
    const { a } = setup({ perClientLimit: 3 });
    for (let i = 0; i < 3; i++) a.admit({ source: '192.0.2.9', account: 'alice' }, true);
    assert.throws(() => a.admit({ source: '192.0.2.9', account: 'alice' }, true), refusedFor('client_limit'));
  });

  it('serves waiting sources round-robin: a source with four waiters gets one turn per round, like a source with one', async () => {
    const { a } = setup({ initialLimit: 1, maxLimit: 1, knownMinLimit: 0 });
    const hold = deferred();
    const blocker = a.admit({ source: '198.51.100.99', account: 'b' }, false);
    void blocker.run(() => hold.promise);
    const order: string[] = [];
    const runs: Promise<unknown>[] = [];
    const enqueue = (source: string, name: string) => {
      const p = a.admit({ source, account: name }, false);
      runs.push(p.run(async () => void order.push(name)).finally(() => p.release()));
    };
    for (let i = 1; i <= 4; i++) enqueue('198.51.100.1', `A${i}`);
    enqueue('198.51.100.2', 'B1');
    enqueue('198.51.100.3', 'C1');
    hold.resolve('x');
    await Promise.all(runs);
    assert.deepEqual(order, ['A1', 'B1', 'C1', 'A2', 'A3', 'A4']);
  });

  it('gives new clients their share (1 start in 4 by default) while known clients keep waiting too', async () => {
    const { a } = setup({ initialLimit: 1, maxLimit: 1, knownMinLimit: 0 });
    const hold = deferred();
    void a.admit({ source: '198.51.100.99', account: 'b' }, false).run(() => hold.promise);
    const order: string[] = [];
    const runs: Promise<unknown>[] = [];
    for (let i = 0; i < 12; i++) {
      const k = a.admit({ source: `192.0.2.${i}`, account: `user${i}` }, true);
      runs.push(k.run(async () => void order.push('K')));
    }
    for (let i = 0; i < 4; i++) {
      const n = a.admit({ source: `198.51.100.${i}`, account: `new${i}` }, false);
      runs.push(n.run(async () => void order.push('N')));
    }
    hold.resolve('x');
    await Promise.all(runs);
    assert.equal(order.slice(0, 12).filter((x) => x === 'N').length, 3, `three new starts among the first twelve: ${order.join('')}`);
    assert.equal(order[0], 'K', 'known clients go first');
  });
});

describe('login scheduling: a burst is not a flood', () => {
  it('queues 150 logins from 150 sources when they fit in maxWaitMs (seconds), and refuses only what would wait longer', async () => {
    const { a, advance } = setup({ maxWaitMs: 5000 });
    // Teach it the time per task: 10 ms.
    await a.run(async () => advance(10));
    const d = Array.from({ length: 150 }, deferred);
    const runs = d.map((x, i) => a.admit({ source: `127.0.${i >> 8}.${i & 255}`, account: `u${i}` }, false).run(() => x.promise));
    assert.equal(a.stats().refused, 0, '150 × 10 ms ÷ 2 threads = 0.75 s: all wait');
    d.forEach((x) => x.resolve('ok'));
    assert.equal((await Promise.all(runs)).length, 150);
    // A queue that would take longer than maxWaitMs refuses the arrival at once.
    const { a: b, advance: adv } = setup({ maxWaitMs: 100 });
    await b.run(async () => adv(10));
    const held = Array.from({ length: 40 }, deferred);
    const results: Promise<unknown>[] = [];
    let refusedAtOnce = 0;
    held.forEach((x, i) => {
      try {
        results.push(b.admit({ source: `127.0.1.${i}`, account: `v${i}` }, false).run(() => x.promise));
      } catch (e) {
        assert.ok(refusedFor('wait_too_long')(e));
        refusedAtOnce++;
      }
    });
    // 2 run, then places 1..19 wait 5..95 ms; the 20th would wait 100 ms (not over), the 21st 105: refused.
    assert.equal(refusedAtOnce, 40 - 22);
    held.forEach((x) => x.resolve('ok'));
    await Promise.all(results);
    a.close();
    b.close();
  });
});

describe('KnownClients', () => {
  it('remembers pairs up to its capacity, forgetting the least recently learned first', () => {
    const k = new KnownClients(2);
    k.learn('alice', '192.0.2.1');
    k.learn('bob', '192.0.2.2');
    k.learn('alice', '192.0.2.1'); // refreshed: bob is now the oldest
    k.learn('carol', '192.0.2.3');
    assert.deepEqual([k.has('alice', '192.0.2.1'), k.has('bob', '192.0.2.2'), k.has('carol', '192.0.2.3')], [true, false, true]);
    assert.equal(k.has('alice', '192.0.2.3'), false, 'a pair, not an account or a source alone');
  });

  it('loads the newest pairs of a store listing (newest first) when it holds fewer than the listing', () => {
    const k = new KnownClients(2);
    k.load([
      { username: 'new', source: 's' },
      { username: 'mid', source: 's' },
      { username: 'old', source: 's' },
    ]);
    assert.deepEqual([k.has('new', 's'), k.has('mid', 's'), k.has('old', 's')], [true, true, false]);
  });
});
