import { availableParallelism } from 'node:os';
import { Algorithm, hash, verify } from '@node-rs/argon2';
import { AdmissionController, type AdmissionOptions } from '../../core/admission.js';
import type { PasswordHasher } from '../../ports/hasher.js';
import { sharedVerifyPool, type VerifyPool } from './verify-pool.js';

export interface Argon2Params {
  /** Memory in KiB. OWASP: 19456 (19 MiB). */
  memoryKiB: number;
  /** Iterations. OWASP: 2. */
  iterations: number;
  /** Lanes. OWASP: 1. */
  parallelism: number;
}

export const OWASP_ARGON2ID: Argon2Params = { memoryKiB: 19456, iterations: 2, parallelism: 1 };

const PHC = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/;

/** libuv's thread pool, where @node-rs/argon2's asynchronous calls run. */
export function threadPoolSize(): number {
  const n = Number(process.env.UV_THREADPOOL_SIZE);
  return Number.isInteger(n) && n > 0 ? n : 4;
}

export interface VerifyOptions {
  /**
   * Threads that verify passwords; default the number of cores (at least 2). 0 =
   * @node-rs/argon2's own calls on libuv's thread pool, at the process's priority.
   */
  threads: number;
  /** Niceness of those threads (Linux; 0..19), so the event loop runs before them; default 10. */
  nice: number;
  /** The admission controller, or its options; default its defaults with `maxLimit` = the threads. */
  admission: AdmissionController | Partial<AdmissionOptions>;
}

/**
 * argon2id through @node-rs/argon2 (Rust, off the event loop).
 *
 * Verifications — the work a login storm multiplies — run on a few threads of
 * their own at a lower CPU priority (nice 10), behind an {@link AdmissionController}:
 * at most as many at once as the event loop's delay allows while session checks
 * are being served (all threads when they are not), a short bounded queue, and
 * beyond it CoreError('busy') without checking anything. Hashing a new password
 * is rare, not limited, and runs on libuv's pool.
 */
export class Argon2idHasher implements PasswordHasher {
  private readonly options;
  readonly admission: AdmissionController;
  private readonly pool: VerifyPool | undefined;

  constructor(
    readonly params: Argon2Params = OWASP_ARGON2ID,
    opts: Partial<VerifyOptions> = {},
  ) {
    const threads = opts.threads ?? Math.max(2, availableParallelism());
    if (!(Number.isInteger(threads) && threads >= 0)) throw new RangeError('argon2: threads must be a whole number >= 0');
    this.pool = threads > 0 ? sharedVerifyPool(threads, Math.min(19, Math.max(0, Math.round(opts.nice ?? 10)))) : undefined;
    const admission = opts.admission ?? {};
    const slots = threads || threadPoolSize();
    // Known clients may always use every thread: the threads run below the event loop's priority, and a flood must not shrink their share.
    this.admission = admission instanceof AdmissionController ? admission : new AdmissionController({ maxLimit: slots, knownMinLimit: slots, ...admission });
    this.options = {
      algorithm: Algorithm.Argon2id,
      memoryCost: params.memoryKiB,
      timeCost: params.iterations,
      parallelism: params.parallelism,
    };
  }

  hash(password: string): Promise<string> {
    return hash(password, this.options);
  }

  /** Rejects with CoreError('busy') when the admission limit refuses it (nothing was checked). */
  verify(stored: string, password: string): Promise<boolean> {
    return this.admission.run(() => this.verifyNow(stored, password));
  }

  /**
   * The same hasher without the admission in front: for a caller that schedules
   * its verifications through the same admission itself (the login path, which
   * admits each login before its store reads and runs it in its lane).
   */
  get scheduled(): PasswordHasher {
    return { hash: (p) => this.hash(p), verify: (h, p) => this.verifyNow(h, p), needsRehash: (h) => this.needsRehash(h) };
  }

  private async verifyNow(stored: string, password: string): Promise<boolean> {
    if (this.pool) return this.pool.verify(stored, password);
    try {
      return await verify(stored, password);
    } catch {
      // A corrupt or foreign hash string: it cannot match anything.
      return false;
    }
  }

  needsRehash(stored: string): boolean {
    const m = PHC.exec(stored);
    if (!m) return true;
    return (
      Number(m[1]) !== this.params.memoryKiB ||
      Number(m[2]) !== this.params.iterations ||
      Number(m[3]) !== this.params.parallelism
    );
  }
}
