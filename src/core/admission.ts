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
  note(): void {
    this.n++;
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
  private readonly queue: Waiter[] = [];
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
    return { limit: this.current, inFlight: this.inFlight, queued: this.queue.length, admitted: this.admitted, refused: this.refused };
  }

  /**
   * Refuses at once (throws CoreError('busy'), counted as a refusal) when a task
   * arriving now would be refused by {@link run}: lets a caller turn a login away
   * before it spends any store reads on it.
   */
  precheck(): void {
    if (this.inFlight < this.current && this.queue.length === 0) return;
    if (this.queue.length >= this.o.maxQueue || this.expectedWaitMs(this.queue.length + 1) > this.o.maxWaitMs) {
      this.refused++;
      throw new CoreError('busy');
    }
  }

  /**
   * Runs `task` now, after a short wait, or not at all (rejects with
   * CoreError('busy') without calling it).
   */
  run<T>(task: () => Promise<T>): Promise<T> {
    const now = this.o.now();
    this.lastActivity = now;
    this.wake();
    if (this.inFlight < this.current && this.queue.length === 0) {
      metrics().hashWait(0);
      return this.start(task, now);
    }
    this.saturated = true;
    if (this.queue.length >= this.o.maxQueue || this.expectedWaitMs(this.queue.length + 1) > this.o.maxWaitMs) {
      this.refused++;
      return Promise.reject(new CoreError('busy'));
    }
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ task, resolve: resolve as (v: unknown) => void, reject, since: now });
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
    this.saturated = this.queue.length > 0;
    if (this.current !== previous && this.o.onChange) {
      this.o.onChange({ limit: this.current, previous, delayMs, interactive, inFlight: this.inFlight, queued: this.queue.length, refused: this.refused - this.refusedReported });
      this.refusedReported = this.refused;
    }
    this.drain(now);
    if (this.inFlight === 0 && this.queue.length === 0 && now - this.lastActivity >= this.o.idleStopMs) this.sleep();
  }

  /** Stops the probe and the timer (they restart with the next task). */
  close(): void {
    this.sleep();
  }

  private expectedWaitMs(place: number): number {
    return (place * this.serviceMs) / this.current;
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

  private drain(now: number): void {
    while (this.queue.length > 0 && this.inFlight < this.current) {
      const w = this.queue.shift()!;
      if (now - w.since > this.o.maxWaitMs) {
        this.refused++;
        w.reject(new CoreError('busy'));
        continue;
      }
      metrics().hashWait((now - w.since) / 1000);
      this.start(w.task, now).then(w.resolve, w.reject);
    }
  }

  private expire(now: number): void {
    while (this.queue.length > 0 && now - this.queue[0]!.since > this.o.maxWaitMs) {
      this.refused++;
      this.queue.shift()!.reject(new CoreError('busy'));
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
