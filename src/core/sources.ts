import type { Clock } from '../ports/clock.js';
import type { LoginGuardStore } from '../ports/store.js';
import type { AdmissionController, LaneStats, SourceLoad } from './admission.js';
import type { AuditContext, AuditService } from './audit.js';
import { CoreError } from './errors.js';
import type { Logger } from './logger.js';
import { ACCOUNT_FAILURE_WINDOW_MS, sourceKey, type BruteForcePolicy } from './sessions.js';

/** A source address as operators see it: its failure counter and the refusals counted for it. */
export interface SourceReport {
  /** The address, or its IPv6 /64 (the key every counter uses). */
  source: string;
  /** Failed logins in the current run (0 when it has only refusals). */
  failures: number;
  /** Whether its logins are refused now (too many failures); until `throttledUntil`. */
  throttled: boolean;
  throttledUntil: number | null;
  firstFailureAt: number | null;
  /** Logins refused before any check (busy, source limit, throttled) in the last `sinceMs`, from the bulk audit and the current window. */
  refused: number;
}

/** A locked account: `portcullis user unlock NAME` (or a successful login from a trusted source) lifts it. */
export interface LockedAccount {
  username: string;
  failures: number;
  lockedUntil: number;
}

export interface SourceServiceDeps {
  guard: LoginGuardStore;
  audit: AuditService;
  clock: Clock;
  logger: Logger;
  bruteForce: BruteForcePolicy;
  /** This process's login scheduler, for what is in progress now (absent in the CLI's own process). */
  admission?: Pick<AdmissionController, 'activeSources' | 'laneStats'>;
}

/**
 * What operators (the CLI, later the console) ask about login sources: which are
 * throttled or refused and how often, which accounts are locked, and releasing a
 * source. Reads the store and the audit only; never on the login path.
 *
 * @example
 *   const top = await sources.listSources({ limit: 20 });   // throttled first, with counts
 *   await sources.releaseSource('192.0.2.7', ctx, 'admin'); // its failures forgotten, audited
 */
export class SourceService {
  constructor(private readonly d: SourceServiceDeps) {}

  /**
   * Sources with failures in their window or refusals in the last `sinceMs`
   * (default an hour), most failures first, then most refusals; at most `limit`
   * (default 100).
   */
  async listSources(opts: { limit?: number; sinceMs?: number } = {}): Promise<SourceReport[]> {
    const limit = opts.limit ?? 100;
    const now = this.d.clock.now();
    const since = now - (opts.sinceMs ?? 60 * 60_000);
    const counters = await this.d.guard.listLoginFailures('source', now, this.d.bruteForce.sourceWindowMs, Math.max(limit, 1000));
    const refused = new Map<string, number>();
    for (const e of await this.d.audit.query({ kind: 'login.refused', since, limit: 1_000_000 })) {
      const n = typeof e.detail.count === 'number' ? e.detail.count : 1;
      refused.set(e.clientAddress, (refused.get(e.clientAddress) ?? 0) + n);
    }
    for (const t of this.d.audit.pendingRefusals()) refused.set(t.source, (refused.get(t.source) ?? 0) + t.count);
    const out = new Map<string, SourceReport>();
    for (const c of counters) {
      out.set(c.subject, {
        source: c.subject,
        failures: c.count,
        throttled: c.locked,
        throttledUntil: c.locked ? c.lockedUntil : null,
        firstFailureAt: c.firstAt,
        refused: refused.get(c.subject) ?? 0,
      });
    }
    for (const [source, n] of refused) {
      if (!out.has(source)) out.set(source, { source, failures: 0, throttled: false, throttledUntil: null, firstFailureAt: null, refused: n });
    }
    return [...out.values()]
      .sort((a, b) => Number(b.throttled) - Number(a.throttled) || b.failures - a.failures || b.refused - a.refused || (a.source < b.source ? -1 : 1))
      .slice(0, limit);
  }

  /** Accounts locked now, most failures first; at most `limit` (default 100). */
  async listLockedAccounts(limit = 100): Promise<LockedAccount[]> {
    const now = this.d.clock.now();
    const all = await this.d.guard.listLoginFailures('account', now, ACCOUNT_FAILURE_WINDOW_MS, Math.max(limit, 1000));
    return all
      .filter((e) => e.locked)
      .slice(0, limit)
      .map((e) => ({ username: e.subject, failures: e.count, lockedUntil: e.lockedUntil }));
  }

  /**
   * Forgets a source's failures: it is no longer throttled (for every node: the
   * counter is in the shared store). Audited as `source.release`. Returns whether
   * it had a counter. Throws CoreError invalid_input for something that is not an
   * IP address.
   */
  async releaseSource(address: string, ctx: AuditContext, by: string): Promise<boolean> {
    const source = sourceOf(address);
    const had = await this.d.guard.clearLoginFailures('source', source);
    this.d.logger.info({ event: 'source.release', client: source, had, by, dialect: ctx.dialect }, 'source released');
    await this.d.audit.record('source.release', ctx, '', { source, by, hadCounter: had });
    return had;
  }

  /** This process's scheduler now: logins in progress per source, and the lanes (empty in a process that serves no logins). */
  inProgress(limit = 100): { sources: SourceLoad[]; lanes: LaneStats | null } {
    return { sources: this.d.admission?.activeSources(limit) ?? [], lanes: this.d.admission?.laneStats() ?? null };
  }
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** The counter key of an address as typed by an operator: an IPv4 address, or an IPv6 address or /64 prefix. */
export function sourceOf(address: string): string {
  const a = address.trim();
  if (IPV4.test(a)) return a;
  const v6 = a.endsWith('::/64') ? a.slice(0, -3) : a;
  if (/^[0-9a-f:.]+$/i.test(v6) && v6.includes(':')) {
    const key = sourceKey(v6);
    if (key.endsWith('::/64')) return key;
  }
  throw new CoreError('invalid_input', `"${address.slice(0, 100)}" is not an IPv4 address or an IPv6 address or /64 prefix`);
}
