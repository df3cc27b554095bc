import { Algorithm, hash, verify } from '@node-rs/argon2';
import type { PasswordHasher } from '../../ports/hasher.js';

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

/**
 * argon2id through @node-rs/argon2 (Rust, runs on the libuv thread pool, so the
 * event loop never waits on a hash).
 */
export class Argon2idHasher implements PasswordHasher {
  private readonly options;

  constructor(readonly params: Argon2Params = OWASP_ARGON2ID) {
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

  async verify(stored: string, password: string): Promise<boolean> {
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
