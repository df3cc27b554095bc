import { createHmac, randomBytes } from 'node:crypto';
import type { Principal } from '../../ports/identity.js';

/**
 * Successful HTTP Basic checks, reused for a short time so that a client sending
 * Basic on every request does not cost an argon2id verification each time.
 *
 * - The key is an HMAC-SHA256 of user and password under a key made at start and
 *   never stored: neither the password nor a plain hash of it is kept, and an
 *   entry is only found with the same password.
 * - Only successes are kept; every failure goes through the full check, so the
 *   brute-force defence counts it.
 * - Bounded in size (the oldest entry is dropped first) and in time: a password
 *   change, a disabled account or a role change is seen within `ttlMs`.
 */
export class BasicCache {
  private readonly key = randomBytes(32);
  private readonly entries = new Map<string, { principal: Principal; until: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly max: number,
    private readonly now: () => number,
  ) {}

  private id(username: string, password: string): string {
    return createHmac('sha256', this.key).update(username).update('\u0000').update(password).digest('base64');
  }

  get(username: string, password: string): Principal | undefined {
    if (this.ttlMs === 0) return undefined;
    const k = this.id(username, password);
    const e = this.entries.get(k);
    if (!e) return undefined;
    if (this.now() >= e.until) {
      this.entries.delete(k);
      return undefined;
    }
    return e.principal;
  }

  set(username: string, password: string, principal: Principal): void {
    if (this.ttlMs === 0) return;
    const k = this.id(username, password);
    this.entries.delete(k);
    this.entries.set(k, { principal, until: this.now() + this.ttlMs });
    while (this.entries.size > this.max) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
