import type { SessionRecord } from '../../ports/store.js';

/**
 * Sessions recently read from a shared backend (PostgreSQL, Redis), kept in this
 * process for at most `maxAgeMs` of real time. Another node's logout, revocation or
 * password change reaches this node through the backend only, so an entry must not
 * outlive the propagation bound the service promises (1 s): the default age is
 * 500 ms. This node's own deletions evict at once. Bounded: the oldest entries go first.
 */
export class HotSessionCache {
  private readonly byKey = new Map<string, { s: SessionRecord; until: number }>();
  private readonly keyOfId = new Map<string, string>();

  constructor(
    private readonly maxAgeMs: number,
    private readonly maxEntries: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get enabled(): boolean {
    return this.maxAgeMs > 0 && this.maxEntries > 0;
  }

  get(key: string): SessionRecord | undefined {
    const e = this.byKey.get(key);
    if (!e) return undefined;
    if (this.now() >= e.until) {
      this.byKey.delete(key);
      this.keyOfId.delete(e.s.id);
      return undefined;
    }
    return e.s;
  }

  put(key: string, s: SessionRecord): void {
    if (!this.enabled) return;
    if (this.byKey.size >= this.maxEntries) {
      const oldest = this.byKey.keys().next();
      if (!oldest.done) {
        const e = this.byKey.get(oldest.value);
        this.byKey.delete(oldest.value);
        if (e) this.keyOfId.delete(e.s.id);
      }
    }
    this.byKey.set(key, { s, until: this.now() + this.maxAgeMs });
    this.keyOfId.set(s.id, key);
  }

  /** Applies a touch to a cached entry (never backwards). */
  touch(id: string, at: number): void {
    const key = this.keyOfId.get(id);
    const e = key === undefined ? undefined : this.byKey.get(key);
    if (e && at > e.s.lastAccessedAt) e.s.lastAccessedAt = at;
  }

  evict(id: string): void {
    const key = this.keyOfId.get(id);
    if (key === undefined) return;
    this.keyOfId.delete(id);
    this.byKey.delete(key);
  }

  evictUser(username: string): void {
    for (const [key, e] of this.byKey) {
      if (e.s.username === username) {
        this.byKey.delete(key);
        this.keyOfId.delete(e.s.id);
      }
    }
  }

  clear(): void {
    this.byKey.clear();
    this.keyOfId.clear();
  }
}
