import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { setPriority } from 'node:os';
import { access, constants } from 'node:fs/promises';
import { IdentitySourceError } from '../../../ports/identity.js';

/** What the helper answered for one check (see helper.c for the line protocol). */
export type PamAnswer =
  | { kind: 'ok'; uid: number; user: string; groups: string[] }
  | { kind: 'fail'; stage: 'auth' | 'acct'; code: number; message: string }
  | { kind: 'error'; code: number; message: string };

export interface PamPoolOptions {
  /** The compiled `portcullis-pam-helper`. */
  helperPath: string;
  /** PAM service name (the file in /etc/pam.d). */
  service: string;
  /** This file must exist before a worker starts: without it PAM silently uses the "other" service. */
  serviceFile?: string | undefined;
  /** Checks running at once (= helper processes at most). */
  maxConcurrent: number;
  /** Checks waiting for a free worker; one more is refused at once. */
  maxQueue: number;
  /** Time allowed for one check, waiting in the queue included, in ms. */
  timeoutMs: number;
  /** A worker is replaced after this many checks (bounds whatever a PAM module leaks). */
  maxRequestsPerWorker?: number;
  /** An idle worker exits after this long, in ms. */
  idleMs?: number;
  /**
   * CPU niceness of the helpers (0–19; default 19, below the argon2 threads). Password hashing (yescrypt)
   * is CPU-heavy: a flood of PAM checks must yield the CPU to session checks.
   */
  nice?: number;
}

const SOURCE = 'pam';
const MAX_FIELD = 4096; // helper.c's limit, in bytes

/** One helper process; answers one check at a time. */
class Worker {
  readonly child: ChildProcessWithoutNullStreams;
  served = 0;
  dead = false;
  /** Killed or told to stop: never handed a check again, even before its exit is seen. */
  retired = false;
  private out = '';
  private err = '';
  private waiting: { resolve(line: string): void; reject(e: Error): void } | undefined;
  idleTimer: NodeJS.Timeout | undefined;

  constructor(helperPath: string, service: string, nice: number, onExit: (w: Worker) => void) {
    this.child = spawn(helperPath, [service], {
      stdio: ['pipe', 'pipe', 'pipe'],
      // PAM modules read the environment (pam_env and others): give them a minimal, known one.
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' },
    });
    if (nice > 0 && this.child.pid !== undefined) {
      try {
        setPriority(this.child.pid, nice);
      } catch {
        // Not fatal: the helper runs at normal priority.
      }
    }
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (chunk: string) => {
      this.out += chunk;
      const nl = this.out.indexOf('\n');
      if (nl < 0) return;
      const line = this.out.slice(0, nl);
      this.out = this.out.slice(nl + 1);
      const w = this.waiting;
      this.waiting = undefined;
      w?.resolve(line);
    });
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (chunk: string) => {
      this.err = (this.err + chunk).slice(-1000);
    });
    this.child.stdin.on('error', () => {}); // EPIPE when the helper died; reported by 'exit'
    const died = (why: string) => {
      if (this.dead) return;
      this.dead = true;
      if (this.idleTimer) clearTimeout(this.idleTimer);
      const w = this.waiting;
      this.waiting = undefined;
      const detail = this.err.trim() ? `: ${this.err.trim()}` : '';
      w?.reject(new IdentitySourceError(SOURCE, `PAM helper ${why}${detail}`));
      onExit(this);
    };
    this.child.on('error', (e: NodeJS.ErrnoException) =>
      died(e.code === 'ENOENT' || e.code === 'EACCES' ? `cannot be run (${e.code}: ${helperPath}): build it with "npm run build:pam" (needs libpam0g-dev)` : `failed: ${e.message}`),
    );
    this.child.on('exit', (code, signal) => died(signal ? `was killed by ${signal}` : `exited with status ${code}`));
  }

  check(username: Buffer, password: Buffer): Promise<string> {
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      const frame = Buffer.alloc(8 + username.length + password.length);
      frame.writeUInt32BE(username.length, 0);
      username.copy(frame, 4);
      frame.writeUInt32BE(password.length, 4 + username.length);
      password.copy(frame, 8 + username.length);
      password.fill(0);
      this.child.stdin.write(frame, () => frame.fill(0));
    });
  }

  /** Idle workers must not keep a CLI process alive. */
  hold(on: boolean): void {
    const ch = this.child;
    if (on) {
      ch.ref();
      (ch.stdout as unknown as { ref?(): void }).ref?.();
      (ch.stderr as unknown as { ref?(): void }).ref?.();
      (ch.stdin as unknown as { ref?(): void }).ref?.();
    } else {
      ch.unref();
      (ch.stdout as unknown as { unref?(): void }).unref?.();
      (ch.stderr as unknown as { unref?(): void }).unref?.();
      (ch.stdin as unknown as { unref?(): void }).unref?.();
    }
  }

  stop(): void {
    this.retired = true;
    if (this.dead) return;
    this.child.stdin.end();
  }

  kill(): void {
    this.retired = true;
    if (!this.dead) this.child.kill('SIGKILL');
  }
}

interface Waiter {
  start(): void;
  cancel(e: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * A bounded pool of PAM helper processes. PAM calls block and some modules
 * sleep on failure; here they block only a helper process, never Node's event
 * loop or its libuv thread pool (where argon2 and file I/O run). At most
 * `maxConcurrent` checks run, at most `maxQueue` wait; beyond that, or past
 * `timeoutMs`, a check fails with an {@link IdentitySourceError} (the client
 * sees "the source could not answer", never a wrong-password answer).
 */
export class PamWorkerPool {
  private readonly idle: Worker[] = [];
  private readonly all = new Set<Worker>();
  private readonly queue: Waiter[] = [];
  private running = 0;
  private closed = false;
  private readonly maxRequests: number;
  private readonly idleMs: number;

  constructor(private readonly o: PamPoolOptions) {
    this.maxRequests = o.maxRequestsPerWorker ?? 1000;
    this.idleMs = o.idleMs ?? 30_000;
  }

  /** Checks currently running and waiting, for tests and diagnostics. */
  get load(): { running: number; queued: number; workers: number } {
    return { running: this.running, queued: this.queue.length, workers: this.all.size };
  }

  async check(username: string, password: string): Promise<PamAnswer> {
    if (this.closed) throw new IdentitySourceError(SOURCE, 'PAM pool is closed');
    const user = Buffer.from(username, 'utf8');
    const pass = Buffer.from(password, 'utf8');
    if (user.length > MAX_FIELD || pass.length > MAX_FIELD) {
      pass.fill(0);
      return { kind: 'fail', stage: 'auth', code: 7, message: 'username or password too long for PAM' };
    }
    const deadline = Date.now() + this.o.timeoutMs;
    if (this.running >= this.o.maxConcurrent) {
      if (this.queue.length >= this.o.maxQueue) {
        pass.fill(0);
        throw new IdentitySourceError(
          SOURCE,
          `PAM is busy: ${this.running} checks running and ${this.queue.length} waiting (identity.pam.maxConcurrent, identity.pam.maxQueue)`,
        );
      }
      await new Promise<void>((resolve, reject) => {
        const waiter: Waiter = {
          start: () => {
            clearTimeout(waiter.timer);
            resolve();
          },
          cancel: (e) => {
            clearTimeout(waiter.timer);
            pass.fill(0);
            reject(e);
          },
          timer: setTimeout(() => {
            const i = this.queue.indexOf(waiter);
            if (i >= 0) this.queue.splice(i, 1);
            pass.fill(0);
            reject(new IdentitySourceError(SOURCE, `PAM did not answer within ${this.o.timeoutMs} ms (all ${this.o.maxConcurrent} workers busy)`));
          }, this.o.timeoutMs),
        };
        this.queue.push(waiter);
      });
      // The finishing check handed its slot over (running was not decremented for us).
    } else {
      this.running++;
    }
    try {
      return parseAnswer(await this.run(user, pass, deadline));
    } finally {
      const next = this.queue.shift();
      if (next) next.start();
      else this.running--;
    }
  }

  private async run(user: Buffer, pass: Buffer, deadline: number): Promise<string> {
    const w = await this.worker();
    w.hold(true);
    const left = Math.max(1, deadline - Date.now());
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        w.check(user, pass),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            // A PAM module that hangs: the worker is lost, the pool makes a new one when needed.
            w.kill();
            reject(new IdentitySourceError(SOURCE, `PAM did not answer within ${this.o.timeoutMs} ms`));
          }, left);
        }),
      ]);
    } finally {
      clearTimeout(timer);
      pass.fill(0);
      this.release(w);
    }
  }

  private async worker(): Promise<Worker> {
    for (let w = this.idle.pop(); w; w = this.idle.pop()) {
      if (w.idleTimer) clearTimeout(w.idleTimer);
      if (!w.dead && !w.retired) return w;
    }
    if (this.o.serviceFile) {
      try {
        await access(this.o.serviceFile, constants.R_OK);
      } catch {
        throw new IdentitySourceError(
          SOURCE,
          `PAM service file ${this.o.serviceFile} is missing: install pam/portcullis there (without it PAM would use the "other" service)`,
        );
      }
    }
    const w = new Worker(this.o.helperPath, this.o.service, this.o.nice ?? 19, (gone) => {
      this.all.delete(gone);
      const i = this.idle.indexOf(gone);
      if (i >= 0) this.idle.splice(i, 1);
    });
    this.all.add(w);
    return w;
  }

  private release(w: Worker): void {
    w.served++;
    if (w.dead || w.retired) return;
    if (this.closed || w.served >= this.maxRequests) return w.stop();
    w.hold(false);
    w.idleTimer = setTimeout(() => {
      const i = this.idle.indexOf(w);
      if (i >= 0) this.idle.splice(i, 1);
      w.stop();
    }, this.idleMs);
    w.idleTimer.unref();
    this.idle.push(w);
  }

  /** Stops every helper and refuses what waits. */
  close(): void {
    this.closed = true;
    for (const q of this.queue.splice(0)) q.cancel(new IdentitySourceError(SOURCE, 'PAM pool is closed'));
    for (const w of this.all) {
      if (w.idleTimer) clearTimeout(w.idleTimer);
      w.kill();
    }
    this.idle.length = 0;
  }
}

function parseAnswer(line: string): PamAnswer {
  const f = line.split('\t');
  if (f[0] === 'OK' && f.length >= 3) return { kind: 'ok', uid: Number(f[1]), user: f[2]!, groups: f.slice(3) };
  if (f[0] === 'FAIL' && f.length >= 3 && (f[1] === 'auth' || f[1] === 'acct')) {
    return { kind: 'fail', stage: f[1], code: Number(f[2]), message: f.slice(3).join(' ') };
  }
  if (f[0] === 'ERR' && f.length >= 2) return { kind: 'error', code: Number(f[1]), message: f.slice(2).join(' ') };
  throw new IdentitySourceError(SOURCE, `PAM helper answered something unexpected (${JSON.stringify(line.slice(0, 80))})`);
}
