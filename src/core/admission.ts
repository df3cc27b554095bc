import { metrics } from '../ports/metrics.js';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { CoreError } from './errors.js';

/** What the probe saw since its previous sample. */
export interface LoadSample {
  /** How late the event loop ran a timer, at worst, ms. */
  delayMs: number;
  /** Latency-sensitive requests (session checks) the process served: what the delay hurts. */
  interactive: number;
}

/**
 * Counts latency-sensitive work (session checks) as it happens, for the admission
 * controller to read once per interval. One per process by default
 * ({@link sessionChecks}): the event loop it protects is the process's too.
 */
export class ActivityMeter {
  private n = 0;
  /** Every one noted since start (never reset): for a second reader that must not disturb `take()`. */
  total = 0;
  note(): void {
    this.n++;
    this.total++;
  }
  /** How many since the previous call. */
  take(): number {
    const n = this.n;
    this.n = 0;
    return n;
  }
}

/** Session checks served by this process; SessionService.authenticate notes each. */
export const sessionChecks = new ActivityMeter();

/** How loaded the process is right now, sampled once per adjustment interval. */
export interface LoadProbe {
  start(): void;
  stop(): void;
  sample(): LoadSample;
}

export interface AdmissionOptions {
  /** Concurrency never falls below this; default 1 (logins always make progress). */
  minLimit: number;
  /** Concurrency never rises above this; default 4 (libuv's thread pool: beyond it work only queues out of sight). */
  maxLimit: number;
  /** Concurrency at start; default maxLimit (an idle service hashes at full speed). */
  initialLimit?: number;
  /** Waiters beyond the limit; one more is refused at once. Default 32. */
  maxQueue: number;
  /**
   * Longest a waiter may wait, ms; default 500. A waiter still queued after it is
   * refused, and an arrival whose expected wait (its place in the queue × the
   * recent time per task ÷ the limit) exceeds it is refused at once.
   */
  maxWaitMs: number;
  /** Event-loop delay (ms) above which the limit falls; default 4. */
  targetDelayMs: number;
  /**
   * Latency-sensitive requests per interval below which the delay is ignored and the
   * limit rises to `maxLimit`; default 5 (100 checks/s at 50 ms). With logins alone,
   * the delay hashing causes only lengthens logins, which wait for a hash anyway.
   */
  minInteractive: number;
  /** Factor the limit is multiplied by when the delay is over target; default 0.5. */
  decrease: number;
  /**
   * Consecutive intervals with the delay under half the target and the limit in full
   * use before the limit rises by one; default 4 (fall fast, rise slowly: no flapping).
   */
  increaseAfter: number;
  /** How often the limit is adjusted, ms; default 50. 0 = only when `adjust()` is called (tests). */
  intervalMs: number;
  /** After this long without a task the probe and its timer stop (they restart with the next task), ms; default 10 000. */
  idleStopMs: number;
  /** Monotonic milliseconds; default performance.now. */
  now: () => number;
  /** Default: the event-loop delay, from perf_hooks.monitorEventLoopDelay. */
  probe: LoadProbe;
  /** Told of every change of the limit (for logs and benchmarks); default none. */
  onChange?: (e: AdmissionEvent) => void;
  /**
   * Logins from one source (IPv4 address, IPv6 /64) that is not known for the account
   * they name, in progress at once (admitted, waiting or being verified); one more is
   * refused at once. Default 4.
   */
  perSourceLimit: number;
  /** Logins of one known client ((account, source) pair) in progress at once; default 16. */
  perClientLimit: number;
  /**
   * Share of the starts that go to new clients while both lanes wait (within the
   * adaptive limit); default 0.25. Known clients get the rest, and everything new
   * clients leave.
   */
  newShare: number;
  /**
   * Known clients (and un-ticketed work) may use at least this many slots whatever
   * the event-loop delay: their verifications are not held back by a flood of
   * refusals the limit cannot shrink. Default 0 (no floor; the service sets it to the
   * hashing threads).
   */
  knownMinLimit: number;
}

/** Who a login is, for scheduling: the source it comes from (see sourceKey) and the account it names. */
export interface LoginTicket {
  source: string;
  account: string;
}

/** Why a login was turned away before any work (counted for the bulk audit). */
export type RefusalReason = 'source_limit' | 'client_limit' | 'queue_full' | 'wait_too_long';

/** A refusal before any work: CoreError('busy') that says which rule refused. */
export class AdmissionRefusal extends CoreError {
  constructor(readonly reason: RefusalReason) {
    super('busy');
  }
}

/** One source or client as the scheduler sees it now. */
export interface SourceLoad {
  /** The source (sourceKey form), or `account\nsource` for a known client. */
  key: string;
  lane: 'known' | 'new';
  inProgress: number;
}

export interface LaneStats {
  known: { queued: number; started: number };
  new: { queued: number; started: number };
  refusedBy: Record<RefusalReason, number>;
  /** Sources (new lane) and clients (known lane) with a login in progress. */
  active: number;
}

export interface AdmissionEvent {
  limit: number;
  previous: number;
  delayMs: number;
  interactive: number;
  inFlight: number;
  queued: number;
  /** Tasks refused since the previous event. */
  refused: number;
}

export interface AdmissionStats {
  limit: number;
  inFlight: number;
  queued: number;
  admitted: number;
  refused: number;
}

interface Waiter {
  task: () => Promise<unknown>;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  since: number;
  lane: 'known' | 'new';
  /** Round-robin key: the account in the known lane, the source in the new lane. */
  key: string;
  done: boolean;
}

/**
 * Waiters in round-robin order over their keys: each key's own waiters in arrival
 * order, one key's turn after another's. So one source (or one account) with many
 * waiters gets one start per round, the same as a source with one.
 */
class FairQueue {
  private readonly byKey = new Map<string, Waiter[]>();
  size = 0;

  push(w: Waiter): void {
    const q = this.byKey.get(w.key);
    if (q) q.push(w);
    else this.byKey.set(w.key, [w]);
    this.size++;
  }

  /** The next waiter by turn (skipping those already refused), or undefined. */
  shift(): Waiter | undefined {
    for (const [key, q] of this.byKey) {
      this.byKey.delete(key);
      let w: Waiter | undefined;
      while ((w = q.shift()) && w.done);
      if (q.length > 0) this.byKey.set(key, q); // to the end of the round
      if (w) {
        this.size--;
        return w;
      }
    }
    return undefined;
  }

  /** A waiter refused in place (it stays in its key's array until its turn, then is skipped). */
  removed(): void {
    this.size--;
  }

  keys(): number {
    return this.byKey.size;
  }
}

/** The bookkeeping of one admitted login; see {@link AdmissionController.admit}. */
export interface AdmissionPass {
  /** Whether the login runs in the known lane. */
  readonly known: boolean;
  /** The store says this client logged in before: the login moves to the known lane (its source's count is freed). */
  promote(): void;
  /** Runs the verification in the login's lane: now, after a fair wait, or not at all (CoreError busy). */
  run<T>(task: () => Promise<T>): Promise<T>;
  /** The login is over (idempotent). */
  release(): void;
}

/**
 * The event loop's delay from perf_hooks (a libuv timer sampled in C++, no JS per
 * sample): the largest delay seen since the previous sample, in ms. The largest,
 * not a percentile: one interval holds only ~10 samples, and a check waits behind
 * the worst of them.
 */
export function eventLoopDelayProbe(meter: ActivityMeter = sessionChecks, resolutionMs = 5): LoadProbe {
  let h: ReturnType<typeof monitorEventLoopDelay> | undefined;
  return {
    start() {
      h ??= monitorEventLoopDelay({ resolution: resolutionMs });
      h.enable();
      meter.take();
    },
    stop() {
      h?.disable();
      h?.reset();
    },
    sample() {
      // The histogram holds whole timer periods: the delay is what exceeds the period.
      const delayMs = !h || h.count === 0 ? 0 : Math.max(0, h.max / 1e6 - resolutionMs);
      h?.reset();
      return { delayMs, interactive: meter.take() };
    },
  };
}

export const ADMISSION_DEFAULTS: Readonly<Omit<AdmissionOptions, 'probe' | 'now' | 'onChange' | 'initialLimit'>> = {
  minLimit: 1,
  maxLimit: 4,
  maxQueue: 32,
  maxWaitMs: 500,
  targetDelayMs: 4,
  minInteractive: 5,
  decrease: 0.5,
  increaseAfter: 4,
  intervalMs: 50,
  idleStopMs: 10_000,
  perSourceLimit: 4,
  perClientLimit: 16,
  newShare: 0.25,
  knownMinLimit: 0,
};

/**
 * Adaptive admission for expensive work that shares the CPU with the event loop
 * (password hashing): at most `limit` tasks run at once, a bounded number wait in
 * order for a bounded time, and the rest are refused at once with
 * CoreError('busy'), which dialects answer with 503 and Retry-After.
 *
 * The limit follows the event loop's delay (AIMD): over `targetDelayMs` it is
 * halved at the next interval; after `increaseAfter` calm intervals in which the
 * limit was the bottleneck it rises by one. With logins alone the loop stays calm
 * and the limit climbs to `maxLimit` (both cores hash); when session checks share
 * the loop, hashing threads delay it and the limit falls until they no longer do.
 *
 * A refused task never started: whatever it would have counted (a failed login),
 * it did not.
 *
 * @example
 *   const admission = new AdmissionController();
 *   const ok = await admission.run(() => verify(hash, password)); // or throws CoreError('busy')
 */
export class AdmissionController {
  private readonly o: AdmissionOptions;
  private current: number;
  private inFlight = 0;
  /** Every waiter in arrival order, for expiry (refused ones are dropped lazily). */
  private readonly queue: Waiter[] = [];
  private queued = 0;
  private readonly known = new FairQueue();
  private readonly fresh = new FairQueue();
  /** Logins in progress per source (`n:` + source) and per known client (`k:` + account + \n + source). */
  private readonly inProgress = new Map<string, number>();
  /** Starts owed to the new lane (grows by newShare/(1-newShare) per known start while both wait). */
  private newCredit = 0;
  private readonly lanes: LaneStats = {
    known: { queued: 0, started: 0 },
    new: { queued: 0, started: 0 },
    refusedBy: { source_limit: 0, client_limit: 0, queue_full: 0, wait_too_long: 0 },
    active: 0,
  };
  private admitted = 0;
  private refused = 0;
  private refusedReported = 0;
  /** Whether the limit held work back (a task queued or all slots were taken) in this interval. */
  private saturated = false;
  private calm = 0;
  /** Recent wall time per task, ms (exponentially weighted); 0 until a task completes. */
  private serviceMs = 0;
  private lastActivity = 0;
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(options: Partial<AdmissionOptions> = {}) {
    const o: AdmissionOptions = {
      ...ADMISSION_DEFAULTS,
      ...options,
      now: options.now ?? (() => performance.now()),
      probe: options.probe ?? eventLoopDelayProbe(),
    };
    if (!(o.minLimit >= 1 && o.maxLimit >= o.minLimit)) throw new RangeError('admission: need 1 <= minLimit <= maxLimit');
    if (!(o.decrease > 0 && o.decrease < 1)) throw new RangeError('admission: decrease must be between 0 and 1');
    if (!(o.perSourceLimit >= 1 && o.perClientLimit >= 1 && o.newShare > 0 && o.newShare < 1 && o.knownMinLimit >= 0)) {
      throw new RangeError('admission: perSourceLimit and perClientLimit must be >= 1, newShare between 0 and 1, knownMinLimit >= 0');
    }
    if (!(o.maxQueue >= 0 && o.maxWaitMs >= 0 && o.targetDelayMs > 0 && o.minInteractive >= 0 && o.increaseAfter >= 1 && o.intervalMs >= 0)) {
      throw new RangeError('admission: maxQueue, maxWaitMs, intervalMs must be >= 0; targetDelayMs > 0; increaseAfter >= 1');
    }
    this.o = o;
    this.current = Math.min(o.maxLimit, Math.max(o.minLimit, Math.round(o.initialLimit ?? o.maxLimit)));
  }

  get limit(): number {
    return this.current;
  }

  stats(): AdmissionStats {
    return { limit: this.current, inFlight: this.inFlight, queued: this.queued, admitted: this.admitted, refused: this.refused };
  }

  /** The lanes: how many wait and have started in each, refusals by rule, sources and clients active. */
  laneStats(): LaneStats {
    return {
      known: { queued: this.known.size, started: this.lanes.known.started },
      new: { queued: this.fresh.size, started: this.lanes.new.started },
      refusedBy: { ...this.lanes.refusedBy },
      active: this.inProgress.size,
    };
  }

  /** Sources and known clients with logins in progress now, the busiest first (at most `limit`). */
  activeSources(limit = 100): SourceLoad[] {
    return [...this.inProgress]
      .map(([k, n]) => ({ key: k.slice(2), lane: k.startsWith('k:') ? ('known' as const) : ('new' as const), inProgress: n }))
      .sort((a, b) => b.inProgress - a.inProgress)
      .slice(0, limit);
  }

  /**
   * Refuses at once (throws CoreError('busy'), counted as a refusal) when a task
   * arriving now would be refused by {@link run}: lets a caller turn a login away
   * before it spends any store reads on it.
   */
  precheck(): void {
    this.refuseIfFull('known');
  }

  /**
   * Admits one login before any store read, or refuses it at once with an
   * {@link AdmissionRefusal} (CoreError busy): a source (or known client) already
   * at its limit of logins in progress, or a lane whose queue is full or whose
   * expected wait exceeds maxWaitMs. `known` is what the caller's memory says of
   * the (account, source) pair. The pass must be released when the login is over.
   *
   * @example
   *   const pass = admission.admit({ source: '192.0.2.7', account: 'alice' }, knownClients.has('alice', '192.0.2.7'));
   *   try { await pass.run(() => verify(...)); } finally { pass.release(); }
   */
  admit(ticket: LoginTicket, known: boolean): AdmissionPass {
    const keyOf = (k: boolean) => (k ? `k:${ticket.account}\n${ticket.source}` : `n:${ticket.source}`);
    let lane: 'known' | 'new' = known ? 'known' : 'new';
    let key = keyOf(known);
    const held = this.inProgress.get(key) ?? 0;
    if (held >= (known ? this.o.perClientLimit : this.o.perSourceLimit)) throw this.refuse(known ? 'client_limit' : 'source_limit');
    this.refuseIfFull(lane);
    this.inProgress.set(key, held + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const n = (this.inProgress.get(key) ?? 1) - 1;
      if (n <= 0) this.inProgress.delete(key);
      else this.inProgress.set(key, n);
    };
    return {
      get known() {
        return lane === 'known';
      },
      promote: () => {
        if (lane === 'known' || released) return;
        release();
        released = false;
        lane = 'known';
        key = keyOf(true);
        this.inProgress.set(key, (this.inProgress.get(key) ?? 0) + 1);
      },
      run: <T>(task: () => Promise<T>) => this.enqueue(task, lane, lane === 'known' ? ticket.account : ticket.source),
      release,
    };
  }

  /**
   * Runs `task` now, after a short wait, or not at all (rejects with
   * CoreError('busy') without calling it). Without a ticket the task waits in the
   * known lane (work for users already authenticated, such as a password change).
   */
  run<T>(task: () => Promise<T>): Promise<T> {
    return this.enqueue(task, 'known', '');
  }

  private refuse(reason: RefusalReason): AdmissionRefusal {
    this.refused++;
    this.lanes.refusedBy[reason]++;
    return new AdmissionRefusal(reason);
  }

  /** Throws when an arrival in `lane` now would be refused by the queue bound or the expected wait. */
  private refuseIfFull(lane: 'known' | 'new'): void {
    if (this.inFlight < this.capOf(lane) && this.laneQueue(lane).size === 0) return;
    if (this.queued >= this.o.maxQueue) throw this.refuse('queue_full');
    if (this.expectedWaitMs(lane) > this.o.maxWaitMs) throw this.refuse('wait_too_long');
  }

  private capOf(lane: 'known' | 'new'): number {
    return lane === 'known' ? Math.max(this.current, this.o.knownMinLimit) : this.current;
  }

  private laneQueue(lane: 'known' | 'new'): FairQueue {
    return lane === 'known' ? this.known : this.fresh;
  }

  private enqueue<T>(task: () => Promise<T>, lane: 'known' | 'new', key: string): Promise<T> {
    const now = this.o.now();
    this.lastActivity = now;
    this.wake();
    if (this.inFlight < this.capOf(lane) && this.laneQueue(lane).size === 0 && (lane === 'known' || this.known.size === 0)) {
      this.lanes[lane].started++;
      metrics().hashWait(0);
      return this.start(task, now);
    }
    this.saturated = true;
    try {
      this.refuseIfFull(lane);
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<T>((resolve, reject) => {
      const w: Waiter = { task, resolve: resolve as (v: unknown) => void, reject, since: now, lane, key, done: false };
      this.queue.push(w);
      this.queued++;
      this.laneQueue(lane).push(w);
    });
  }

  /**
   * One control step: refuse waiters past their time, read the probe, move the
   * limit, start what the new limit allows. Runs every `intervalMs`; tests call it.
   */
  adjust(): void {
    const now = this.o.now();
    this.expire(now);
    const { delayMs, interactive } = this.o.probe.sample();
    const previous = this.current;
    const wanted = this.saturated || this.inFlight >= this.current;
    if (interactive < this.o.minInteractive) {
      // Nothing but this work waits for the loop: its delay costs only this work's own latency. Use every thread.
      if (wanted && this.current < this.o.maxLimit) this.current++;
      this.calm = 0;
    } else if (delayMs > this.o.targetDelayMs) {
      this.current = Math.max(this.o.minLimit, Math.floor(this.current * this.o.decrease));
      this.calm = 0;
    } else if (delayMs <= this.o.targetDelayMs / 2 && wanted) {
      if (++this.calm >= this.o.increaseAfter && this.current < this.o.maxLimit) {
        this.current++;
        this.calm = 0;
      }
    } else {
      this.calm = 0;
    }
    this.saturated = this.queued > 0;
    if (this.current !== previous && this.o.onChange) {
      this.o.onChange({ limit: this.current, previous, delayMs, interactive, inFlight: this.inFlight, queued: this.queued, refused: this.refused - this.refusedReported });
      this.refusedReported = this.refused;
    }
    this.drain(now);
    if (this.inFlight === 0 && this.queued === 0 && now - this.lastActivity >= this.o.idleStopMs) this.sleep();
  }

  /** Stops the probe and the timer (they restart with the next task). */
  close(): void {
    this.sleep();
  }

  /**
   * What an arrival in `lane` would wait: its place in the lane × the recent time
   * per task ÷ the slots the lane gets (the new lane only its share while known
   * clients wait).
   */
  private expectedWaitMs(lane: 'known' | 'new'): number {
    const place = this.laneQueue(lane).size + 1;
    const slots = lane === 'known' ? this.capOf('known') : this.known.size > 0 ? this.current * this.o.newShare : this.current;
    return (place * this.serviceMs) / slots;
  }

  private start<T>(task: () => Promise<T>, now: number): Promise<T> {
    this.inFlight++;
    this.admitted++;
    if (this.inFlight >= this.current) this.saturated = true;
    let p: Promise<T>;
    try {
      p = task();
    } catch (e) {
      p = Promise.reject(e);
    }
    const done = () => {
      this.inFlight--;
      const t = this.o.now();
      this.serviceMs = this.serviceMs === 0 ? t - now : this.serviceMs * 0.8 + (t - now) * 0.2;
      this.lastActivity = t;
      this.drain(t);
    };
    return p.then(
      (v) => {
        done();
        return v;
      },
      (e: unknown) => {
        done();
        throw e;
      },
    );
  }

  /** Starts waiters while slots allow: the known lane first, the new lane its share, each round-robin. */
  private drain(now: number): void {
    for (;;) {
      const k = this.known.size > 0 && this.inFlight < this.capOf('known');
      const n = this.fresh.size > 0 && this.inFlight < this.current;
      if (!k && !n) return;
      let lane: 'known' | 'new';
      if (k && n) {
        if (this.newCredit >= 1) {
          lane = 'new';
          this.newCredit -= 1;
        } else {
          lane = 'known';
          this.newCredit += this.o.newShare / (1 - this.o.newShare);
        }
      } else {
        lane = k ? 'known' : 'new';
        if (this.known.size === 0 || this.fresh.size === 0) this.newCredit = 0;
      }
      const w = this.laneQueue(lane).shift()!;
      w.done = true;
      this.queued--;
      if (now - w.since > this.o.maxWaitMs) {
        this.refused++;
        this.lanes.refusedBy.wait_too_long++;
        w.reject(new AdmissionRefusal('wait_too_long'));
        continue;
      }
      this.lanes[lane].started++;
      metrics().hashWait((now - w.since) / 1000);
      this.start(w.task, now).then(w.resolve, w.reject);
    }
  }

  private expire(now: number): void {
    while (this.queue.length > 0 && (this.queue[0]!.done || now - this.queue[0]!.since > this.o.maxWaitMs)) {
      const w = this.queue.shift()!;
      if (w.done) continue;
      w.done = true;
      this.queued--;
      this.laneQueue(w.lane).removed();
      this.refused++;
      this.lanes.refusedBy.wait_too_long++;
      w.reject(new AdmissionRefusal('wait_too_long'));
    }
  }

  private wake(): void {
    if (this.running) return;
    this.running = true;
    this.o.probe.start();
    if (this.o.intervalMs > 0) {
      this.timer = setInterval(() => this.adjust(), this.o.intervalMs);
      this.timer.unref();
    }
  }

  private sleep(): void {
    if (!this.running) return;
    this.running = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.o.probe.stop();
    this.calm = 0;
    // Idle: the next burst starts at full speed and falls within one interval if it must.
    this.current = Math.min(this.o.maxLimit, Math.max(this.o.minLimit, Math.round(this.o.initialLimit ?? this.o.maxLimit)));
  }
}

/**
 * The (account, source) pairs that logged in successfully, in memory, for the
 * login scheduler to tell a known client before any store read. Bounded: the
 * least recently learned pair goes first. The store's login sources are the truth
 * (they survive restarts and are shared by nodes); this memory is loaded from them
 * at start ({@link KnownClients.load}) and learns from every login, so a restart
 * under a flood still knows its returning users.
 */
export class KnownClients {
  private readonly pairs = new Map<string, true>();

  constructor(readonly capacity = 100_000) {
    if (!(Number.isInteger(capacity) && capacity >= 0)) throw new RangeError('known clients: capacity must be a whole number >= 0');
  }

  has(account: string, source: string): boolean {
    return this.pairs.has(`${account}\n${source}`);
  }

  /** Remembers the pair as the newest. */
  learn(account: string, source: string): void {
    if (this.capacity === 0) return;
    const k = `${account}\n${source}`;
    this.pairs.delete(k);
    this.pairs.set(k, true);
    if (this.pairs.size > this.capacity) this.pairs.delete(this.pairs.keys().next().value!);
  }

  /** Loads pairs given newest first (as the store lists them) without displacing newer ones. */
  load(entries: readonly { username: string; source: string }[]): void {
    for (let i = Math.min(entries.length, this.capacity) - 1; i >= 0; i--) {
      const e = entries[i]!;
      if (!this.has(e.username, e.source)) this.learn(e.username, e.source);
    }
  }

  get size(): number {
    return this.pairs.size;
  }
}
