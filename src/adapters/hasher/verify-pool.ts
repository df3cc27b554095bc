import { existsSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { sessionChecks, type ActivityMeter } from '../../core/admission.js';
import type { VerifyReply, VerifyRequest } from './verify-worker.js';

interface Slot {
  worker: Worker;
  /** The thread's id (Linux), once it has told it; 0 = unknown (its priority cannot be changed). */
  tid: number;
  pending: Map<number, { resolve: (ok: boolean) => void; reject: (e: Error) => void }>;
}

export interface PoolPriorityOptions {
  /** Where session checks are counted; default the process's {@link sessionChecks}. */
  meter: ActivityMeter;
  /** After the last session check, the threads stay at the low priority this long, ms; default 1000. */
  holdMs: number;
  /** How often, while verifications are in hand, the pool looks for session checks, ms; default 10. */
  pollMs: number;
}

/**
 * Hashing threads at a lower CPU priority than the event loop while session
 * checks are being served, and at the event loop's own priority while none are
 * (so that logins alone hash as fast as argon2 can: on a busy machine, nice 10
 * would hand most of the core to other processes). Lowering a thread's niceness
 * again needs CAP_SYS_NICE (or RLIMIT_NICE); without it the threads stay at the
 * low priority and {@link VerifyPool.priorityChange} says so. Started on first
 * use and unref'd while idle, so they never keep a process alive. Each
 * verification goes to the thread with the fewest in hand; the admission
 * controller in front keeps that at one per thread.
 */
export class VerifyPool {
  private slots: Slot[] = [];
  private nextId = 1;
  private readonly p: PoolPriorityOptions;
  /** The niceness of the process (the event loop's): what the threads run at while no checks are served. */
  readonly idleNice: number;
  /** The niceness the threads are at now. */
  private current: number;
  /** False once lowering a thread's niceness was refused (no CAP_SYS_NICE): the threads stay at `nice`. */
  private canLower = true;
  private lastTotal = -1;
  private lastCheckAt = -Infinity;
  private timer: ReturnType<typeof setInterval> | undefined;
  private changes = 0;

  constructor(
    readonly size: number,
    readonly nice: number,
    priority: Partial<PoolPriorityOptions> = {},
  ) {
    if (!(Number.isInteger(size) && size >= 1)) throw new RangeError('verify pool: size must be a whole number >= 1');
    this.p = { meter: sessionChecks, holdMs: 1000, pollMs: 10, ...priority };
    let base = 0;
    try {
      base = getPriority();
    } catch {
      // Not available: assume the default priority.
    }
    this.idleNice = Math.min(base, nice);
    this.current = nice;
  }

  /** The threads' niceness now, whether it may be lowered again, and how often it changed. */
  get priorityChange(): { nice: number; canLower: boolean; changes: number } {
    return { nice: this.current, canLower: this.canLower, changes: this.changes };
  }

  /**
   * Puts the threads at the low priority if a session check was served within
   * `holdMs`, else at the event loop's. Runs at each verification and every
   * `pollMs` while any are in hand.
   */
  adjustPriority(now = performance.now()): void {
    const total = this.p.meter.total;
    if (total !== this.lastTotal) {
      if (this.lastTotal >= 0) this.lastCheckAt = now;
      this.lastTotal = total;
    }
    const want = now - this.lastCheckAt < this.p.holdMs || !this.canLower ? this.nice : this.idleNice;
    if (want === this.current) return;
    for (const s of this.slots) if (!this.renice(s, want)) return;
    this.current = want;
    this.changes++;
  }

  /** The threads' ids (Linux; those that have told theirs). */
  get threadIds(): number[] {
    return this.slots.map((s) => s.tid).filter((t) => t > 0);
  }

  private renice(s: Slot, nice: number): boolean {
    if (s.tid <= 0) return true;
    try {
      setPriority(s.tid, nice);
      return true;
    } catch {
      // EACCES: lowering niceness needs CAP_SYS_NICE. Stay (all threads) at the low priority from now on.
      this.canLower = false;
      for (const t of this.slots) if (t.tid > 0) try { setPriority(t.tid, this.nice); } catch { /* gone */ }
      this.current = this.nice;
      return false;
    }
  }

  private busy(): boolean {
    return this.slots.some((s) => s.pending.size > 0);
  }

  verify(hash: string, password: string): Promise<boolean> {
    while (this.slots.length < this.size) this.slots.push(this.startThread());
    if (this.nice > this.idleNice) {
      this.adjustPriority();
      if (!this.timer) {
        this.timer = setInterval(() => {
          this.adjustPriority();
          if (!this.busy()) {
            clearInterval(this.timer);
            this.timer = undefined;
          }
        }, this.p.pollMs);
        this.timer.unref();
      }
    }
    let slot = this.slots[0]!;
    for (const s of this.slots) if (s.pending.size < slot.pending.size) slot = s;
    const id = this.nextId++;
    return new Promise<boolean>((resolve, reject) => {
      if (slot.pending.size === 0) slot.worker.ref();
      slot.pending.set(id, { resolve, reject });
      slot.worker.postMessage({ id, hash, password } satisfies VerifyRequest);
    });
  }

  /** Ends the threads; verifications in hand fail. The next verification starts new ones. */
  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    for (const s of this.slots.splice(0)) {
      this.fail(s, new Error('password hashing threads closed'));
      void s.worker.terminate();
    }
  }

  private startThread(): Slot {
    const worker = new Worker(workerScript(), { workerData: { nice: this.nice } });
    const slot: Slot = { worker, tid: 0, pending: new Map() };
    worker.on('message', (r: VerifyReply) => {
      if ('tid' in r) {
        // The thread started at `nice`; bring it to where the others are.
        slot.tid = r.tid;
        if (this.current !== this.nice) this.renice(slot, this.current);
        return;
      }
      const p = slot.pending.get(r.id);
      slot.pending.delete(r.id);
      if (slot.pending.size === 0) worker.unref();
      p?.resolve(r.ok);
    });
    worker.on('error', (e) => this.fail(slot, e));
    worker.on('exit', (code) => this.fail(slot, new Error(`password hashing thread exited (${code})`)));
    worker.unref();
    return slot;
  }

  /** A thread that died fails what it held (an error, never "no match") and is replaced at the next verification. */
  private fail(slot: Slot, e: Error): void {
    for (const p of slot.pending.values()) p.reject(e);
    slot.pending.clear();
    this.slots = this.slots.filter((s) => s !== slot);
  }
}

const shared = new Map<string, VerifyPool>();

/**
 * One pool per process for each (size, priority): the cores are the process's, and
 * a test process that opens many services must not start threads for each.
 */
export function sharedVerifyPool(size: number, nice: number): VerifyPool {
  const key = `${size}/${nice}`;
  let p = shared.get(key);
  if (!p) shared.set(key, (p = new VerifyPool(size, nice)));
  return p;
}

/**
 * The hashing thread's script: beside this module (dist/adapters/hasher/), or, when this
 * module is part of the command line's bundle (dist/cli.js or dist/chunks/, made by
 * scripts/build-bundle.mjs), the same file where tsc put it.
 */
let script: URL | undefined;
function workerScript(): URL {
  script ??= ['./verify-worker.js', './adapters/hasher/verify-worker.js', '../adapters/hasher/verify-worker.js']
    .map((p) => new URL(p, import.meta.url))
    .find((u) => existsSync(fileURLToPath(u)));
  if (!script) throw new Error('the password-hashing thread\'s script (verify-worker.js) is missing from the installation');
  return script;
}
