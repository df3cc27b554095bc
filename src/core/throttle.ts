import type { Clock } from '../ports/clock.js';
import type { LoginGuardStore } from '../ports/store.js';
import type { AuditContext, AuditService } from './audit.js';
import type { Logger } from './logger.js';
import { sourceKey, type BruteForcePolicy } from './sessions.js';

export interface ThrottledSource {
  /** The counted key: an IPv4 address, or an IPv6 /64 prefix. */
  source: string;
  failures: number;
  /** End of the throttle (ms since the epoch). */
  lockedUntil: number;
}

/**
 * Source addresses the brute-force defence throttles, for operators: which are
 * throttled now, and releasing one. The store keeps counters by key without an
 * index of them, so candidates come from the audit trail's failed logins within
 * the source window, and each is confirmed against its live counter.
 */
export class ThrottleService {
  constructor(private readonly d: { guard: LoginGuardStore; audit: AuditService; clock: Clock; logger: Logger; bruteForce: BruteForcePolicy }) {}

  async list(limit = 500): Promise<ThrottledSource[]> {
    const now = this.d.clock.now();
    const window = this.d.bruteForce.sourceWindowMs;
    const events = await this.d.audit.query({ kind: 'login.failure', since: now - window, limit: 20_000 });
    const keys = [...new Set(events.filter((e) => e.clientAddress && e.clientAddress !== 'cli').map((e) => sourceKey(e.clientAddress)))];
    const out: ThrottledSource[] = [];
    for (const source of keys) {
      const st = await this.d.guard.getLoginFailures('source', source, now, window);
      if (st.locked) out.push({ source, failures: st.count, lockedUntil: st.lockedUntil });
      if (out.length >= limit) break;
    }
    return out.sort((a, b) => b.failures - a.failures || a.source.localeCompare(b.source));
  }

  /** Lifts a source's throttle and forgets its failures (an address or its /64 key). Returns whether it was throttled. */
  async release(address: string, ctx: AuditContext, by: string): Promise<boolean> {
    const source = sourceKey(address.trim());
    const st = await this.d.guard.getLoginFailures('source', source, this.d.clock.now(), this.d.bruteForce.sourceWindowMs);
    await this.d.guard.clearLoginFailures('source', source);
    this.d.logger.info({ event: 'source.release', client: source, wasThrottled: st.locked, by }, 'source released');
    await this.d.audit.record('source.release', ctx, '', { source, by, wasThrottled: st.locked });
    return st.locked;
  }
}
