/**
 * A hashing thread: verifies argon2id hashes synchronously, one at a time. It
 * starts at a lower CPU priority than the event loop (Linux: `setpriority` on a
 * thread id applies to that thread only), so a session check waiting for the CPU
 * is run before the rest of a hash, and tells the pool its thread id, which
 * raises it to the event loop's priority while no checks are being served.
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { verifySync } from '@node-rs/argon2';

export interface VerifyRequest {
  id: number;
  hash: string;
  password: string;
}

export type VerifyReply = { id: number; ok: boolean } | { tid: number };

let tid = 0;
try {
  // "/proc/thread-self" -> "<pid>/task/<tid>".
  tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
} catch {
  // Not Linux, or no /proc: the thread keeps the process's priority.
}
const nice = Number((workerData as { nice?: number } | undefined)?.nice ?? 0);
if (tid > 0 && nice > 0) {
  try {
    setPriority(tid, nice);
  } catch {
    tid = 0;
  }
}
if (tid > 0) parentPort!.postMessage({ tid } satisfies VerifyReply);

parentPort!.on('message', (m: VerifyRequest) => {
  let ok = false;
  try {
    ok = verifySync(m.hash, m.password);
  } catch {
    // A corrupt or foreign hash string: it cannot match anything.
  }
  parentPort!.postMessage({ id: m.id, ok } satisfies VerifyReply);
});
