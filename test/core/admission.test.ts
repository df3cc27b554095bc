import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ActivityMeter, AdmissionController, type AdmissionEvent, type AdmissionOptions, type LoadProbe, type LoadSample } from '../../src/core/admission.js';
import { CoreError } from '../../src/core/errors.js';

/*
 * The admission algorithm, step by step: a hand-moved clock, a probe that reports
 * what the test says, and `adjust()` called by the test (intervalMs 0: no timer).
 */

class FakeProbe implements LoadProbe {
  next: LoadSample = { delayMs: 0, interactive: 0 };
  started = 0;
  stopped = 0;
  start() {
    this.started++;
  }
  stop() {
    this.stopped++;
  }
  sample() {
    return this.next;
  }
}

/** A task the test finishes by hand. */
function deferred() {
  let resolve!: (v: string) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<string>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function setup(opts: Partial<AdmissionOptions> = {}) {
  let t = 1000;
  const probe = new FakeProbe();
  const events: AdmissionEvent[] = [];
  const a = new AdmissionController({
    minLimit: 1,
    maxLimit: 4,
    maxQueue: 3,
    maxWaitMs: 500,
    targetDelayMs: 4,
    minInteractive: 5,
    increaseAfter: 3,
    intervalMs: 0,
    idleStopMs: 10_000,
    now: () => t,
    probe,
    onChange: (e) => events.push(e),
    ...opts,
  });
  return { a, probe, events, advance: (ms: number) => (t += ms) };
}

/** Lets settled promises run their reactions. */
const flush = () => new Promise<void>((r) => setImmediate(r));

function isBusy(e: unknown): boolean {
  return e instanceof CoreError && e.code === 'busy';
}

describe('AdmissionController: the queue', () => {
  it('runs up to the limit at once, queues the next in order, and refuses beyond the queue without calling the task', async () => {
    const { a } = setup({ initialLimit: 2 });
    const tasks = Array.from({ length: 6 }, deferred);
    const started: number[] = [];
    const results = tasks.map((d, i) =>
      a.run(() => {
        started.push(i);
        return d.promise;
      }),
    );
    assert.deepEqual(started, [0, 1]);
    assert.deepEqual(a.stats(), { limit: 2, inFlight: 2, queued: 3, admitted: 2, refused: 1 });
    await assert.rejects(results[5]!, isBusy);

    tasks[1]!.resolve('one');
    assert.equal(await results[1], 'one');
    assert.deepEqual(started, [0, 1, 2], 'the first waiter takes the freed slot');
    tasks[0]!.resolve('zero');
    await results[0];
    assert.deepEqual(started, [0, 1, 2, 3]);
    for (const i of [2, 3]) tasks[i]!.resolve(String(i));
    await Promise.all([results[2], results[3]]);
    assert.deepEqual(started, [0, 1, 2, 3, 4]);
    tasks[4]!.resolve('4');
    assert.equal(await results[4], '4');
    assert.equal(a.stats().inFlight, 0);
  });

  it('refuses a waiter once it has waited longer than maxWaitMs, and never runs it', async () => {
    const { a, probe, advance } = setup({ initialLimit: 1 });
    probe.next = { delayMs: 3, interactive: 50 }; // holds the limit where it is
    const first = deferred();
    let ran = false;
    const r1 = a.run(() => first.promise);
    const r2 = a.run(async () => {
      ran = true;
      return 'late';
    });
    advance(500);
    a.adjust();
    assert.equal(a.stats().queued, 1, 'at exactly maxWaitMs it still waits');
    advance(1);
    a.adjust();
    await assert.rejects(r2, isBusy);
    first.resolve('done');
    await r1;
    await flush();
    assert.equal(ran, false);
    assert.equal(a.stats().refused, 1);
  });

  it('refuses at once an arrival whose expected wait exceeds maxWaitMs (place × recent time per task ÷ limit)', async () => {
    const { a, advance } = setup({ initialLimit: 1, maxQueue: 10, maxWaitMs: 250 });
    // One task of 100 ms teaches the controller the time per task.
    const d = deferred();
    const r = a.run(() => d.promise);
    advance(100);
    d.resolve('x');
    await r;
    const blocker = deferred();
    const running = a.run(() => blocker.promise);
    const w1 = a.run(async () => 1); // 100 ms expected
    const w2 = a.run(async () => 2); // 200 ms
    const w3 = a.run(async () => 3); // 300 ms > 250: refused now
    await assert.rejects(w3, isBusy);
    assert.equal(a.stats().queued, 2);
    blocker.resolve('b');
    await running;
    assert.deepEqual(await Promise.all([w1, w2]), [1, 2]);
  });

  it('frees the slot of a task that throws or rejects', async () => {
    const { a } = setup({ initialLimit: 1 });
    await assert.rejects(
      a.run(() => {
        throw new Error('sync');
      }),
      /sync/,
    );
    await assert.rejects(a.run(() => Promise.reject(new Error('async'))), /async/);
    assert.equal(await a.run(async () => 'ok'), 'ok');
    assert.equal(a.stats().inFlight, 0);
  });
});

describe('AdmissionController: the limit', () => {
  /** Keeps `n` tasks in flight and some waiting, so the limit is the bottleneck. */
  function saturate(a: AdmissionController, n: number) {
    const held = Array.from({ length: n }, deferred);
    for (const d of held) a.run(() => d.promise).catch(() => {});
    return () => held.forEach((d) => d.resolve('x'));
  }

  it('halves when session checks are served and the event loop is late, down to minLimit and no further', () => {
    const { a, probe, events } = setup({ maxQueue: 10 });
    const release = saturate(a, 6);
    probe.next = { delayMs: 9, interactive: 50 };
    a.adjust();
    assert.equal(a.limit, 2);
    a.adjust();
    assert.equal(a.limit, 1);
    a.adjust();
    assert.equal(a.limit, 1);
    assert.deepEqual(
      events.map((e) => [e.previous, e.limit]),
      [
        [4, 2],
        [2, 1],
      ],
    );
    release();
  });

  it('rises by one only after increaseAfter calm intervals in which the limit held work back', () => {
    const { a, probe } = setup({ initialLimit: 1, maxQueue: 10 });
    const release = saturate(a, 6);
    probe.next = { delayMs: 1, interactive: 50 };
    a.adjust();
    a.adjust();
    assert.equal(a.limit, 1);
    a.adjust();
    assert.equal(a.limit, 2);
    // A delay between half the target and the target holds the limit and restarts the count.
    probe.next = { delayMs: 3, interactive: 50 };
    a.adjust();
    probe.next = { delayMs: 1, interactive: 50 };
    a.adjust();
    a.adjust();
    assert.equal(a.limit, 2);
    a.adjust();
    assert.equal(a.limit, 3);
    release();
  });

  it('does not rise while the limit is not what holds work back', () => {
    const { a, probe } = setup({ initialLimit: 2 });
    probe.next = { delayMs: 0, interactive: 50 };
    for (let i = 0; i < 10; i++) a.adjust();
    assert.equal(a.limit, 2);
  });

  it('with no session checks, ignores the delay and rises to maxLimit, one step per interval (logins alone use every thread)', () => {
    const { a, probe } = setup({ initialLimit: 1, maxQueue: 10 });
    const release = saturate(a, 6);
    probe.next = { delayMs: 40, interactive: 4 };
    a.adjust();
    assert.equal(a.limit, 2);
    a.adjust();
    a.adjust();
    a.adjust();
    assert.equal(a.limit, 4);
    // Checks come back: it falls at the next interval.
    probe.next = { delayMs: 40, interactive: 5 };
    a.adjust();
    assert.equal(a.limit, 2);
    release();
  });

  it('starts waiters as soon as a rise allows', async () => {
    const { a, probe } = setup({ initialLimit: 1, maxQueue: 10 });
    const started: number[] = [];
    const held = Array.from({ length: 3 }, deferred);
    held.forEach((d, i) =>
      a.run(() => {
        started.push(i);
        return d.promise;
      }),
    );
    assert.deepEqual(started, [0]);
    probe.next = { delayMs: 0, interactive: 0 };
    a.adjust();
    assert.deepEqual(started, [0, 1]);
    held.forEach((d) => d.resolve('x'));
    await flush();
  });

  it('stops its probe after idleStopMs without work, starts it again with the next task, at the initial limit', async () => {
    const { a, probe, advance } = setup({ idleStopMs: 1000 });
    assert.equal(probe.started, 0, 'nothing runs before the first task');
    await a.run(async () => 'x');
    assert.equal(probe.started, 1);
    probe.next = { delayMs: 20, interactive: 100 };
    a.adjust(); // no work held back, but the delay is over target with checks: falls
    assert.equal(a.limit, 2);
    advance(999);
    a.adjust();
    assert.equal(probe.stopped, 0);
    advance(1);
    a.adjust();
    assert.equal(probe.stopped, 1);
    assert.equal(a.limit, 4);
    await a.run(async () => 'y');
    assert.equal(probe.started, 2);
  });

  it('rejects options that cannot work', () => {
    assert.throws(() => new AdmissionController({ minLimit: 0, probe: new FakeProbe() }), RangeError);
    assert.throws(() => new AdmissionController({ minLimit: 3, maxLimit: 2, probe: new FakeProbe() }), RangeError);
    assert.throws(() => new AdmissionController({ decrease: 1, probe: new FakeProbe() }), RangeError);
  });
});

describe('ActivityMeter', () => {
  it('counts notes since the previous take', () => {
    const m = new ActivityMeter();
    m.note();
    m.note();
    assert.equal(m.take(), 2);
    assert.equal(m.take(), 0);
  });
});

describe('admission precheck (a login turned away before any store read)', () => {
  it('passes while a slot is free or the queue has room, and throws busy exactly when run() would refuse', async () => {
    const { a } = setup({ maxLimit: 1, maxQueue: 1 });
    a.precheck(); // a free slot
    const first = deferred();
    const running = a.run(() => first.promise);
    a.precheck(); // the slot is taken, the queue has room
    const second = deferred();
    const queued = a.run(() => second.promise);
    assert.throws(() => a.precheck(), (e: unknown) => e instanceof CoreError && e.code === 'busy');
    await assert.rejects(a.run(async () => 'never'), (e: unknown) => e instanceof CoreError && e.code === 'busy');
    assert.equal(a.stats().refused, 2, 'a precheck refusal counts like a run() refusal');
    first.resolve('a');
    second.resolve('b');
    assert.deepEqual(await Promise.all([running, queued]), ['a', 'b']);
    a.precheck();
  });
});
