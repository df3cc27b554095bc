import { Worker } from 'node:worker_threads';
import type { VerifyReply, VerifyRequest } from './verify-worker.js';

interface Slot {
  worker: Worker;
  pending: Map<number, { resolve: (ok: boolean) => void; reject: (e: Error) => void }>;
}

/**
 * Hashing threads at a lower CPU priority than the event loop. Started on first
 * use and unref'd while idle, so they never keep a process alive. Each
 * verification goes to the thread with the fewest in hand; the admission
 * controller in front keeps that at one per thread.
 */
export class VerifyPool {
  private slots: Slot[] = [];
  private nextId = 1;

  constructor(
    readonly size: number,
    readonly nice: number,
  ) {
    if (!(Number.isInteger(size) && size >= 1)) throw new RangeError('verify pool: size must be a whole number >= 1');
  }

  verify(hash: string, password: string): Promise<boolean> {
    while (this.slots.length < this.size) this.slots.push(this.startThread());
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
    for (const s of this.slots.splice(0)) {
      this.fail(s, new Error('password hashing threads closed'));
      void s.worker.terminate();
    }
  }

  private startThread(): Slot {
    const worker = new Worker(new URL('./verify-worker.js', import.meta.url), { workerData: { nice: this.nice } });
    const slot: Slot = { worker, pending: new Map() };
    worker.on('message', (r: VerifyReply) => {
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
