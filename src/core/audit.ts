import type { Clock } from '../ports/clock.js';
import type { AuditEvent, AuditFilter, AuditRecord, AuditStore } from '../ports/store.js';
import type { Logger } from './logger.js';
import type { AuditSink } from '../ports/audit-sink.js';

/** Who asked, as the audit records it. */
export interface AuditContext {
  requestId: string;
  clientAddress: string;
  dialect: string;
}

/** Kinds of audit events, one per rule that fires. */
export const AUDIT_KINDS = [
  'login.success',
  'login.failure',
  'account.lock',
  'account.unlock',
  'account.disable',
  'account.enable',
  'account.create',
  'account.delete',
  'password.change',
  'password.reset',
  'session.logout',
  'session.expire',
  'session.revoke',
  'settings.change',
  'testing.control',
  'login.refused',
  'source.release',
] as const;
export type AuditKind = (typeof AUDIT_KINDS)[number];

/** How the bulk audit of refusals is bounded. */
export interface RefusalTallyOptions {
  /** Length of one tally window, ms; default 60 000 (counts per source per minute). */
  windowMs: number;
  /** Sources counted apart in one window; refusals from further sources are counted under "*". Default 10 000. */
  maxSources: number;
}

const SYSTEM: AuditContext = { requestId: '', clientAddress: '', dialect: 'system' };

/**
 * The audit trail. Callers pass facts they choose (never a password or a token);
 * a failure to write is logged and does not fail the request it describes.
 */
export class AuditService {
  /** Refusals counted in the current window: `source\nreason` -> count and the dialects seen. */
  private tallies = new Map<string, { count: number; dialects: Set<string> }>();
  private windowStart = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly tallyOptions: RefusalTallyOptions;

  constructor(
    private readonly store: AuditStore,
    private readonly clock: Clock,
    private readonly logger: Logger,
    tally: Partial<RefusalTallyOptions> = {},
    /** Also sent each event (syslog, JSON lines); never waited for. */
    private readonly sink?: AuditSink,
  ) {
    this.tallyOptions = { windowMs: 60_000, maxSources: 10_000, ...tally };
  }

  /**
   * Counts a login refused before or without a password check (admission busy, a
   * throttled source) instead of writing a row for it: once per window, one
   * `login.refused` event per source and reason carries the count. A flood of any
   * size adds at most maxSources + 1 rows a window, and nothing per attempt.
   * Call {@link flushRefusals} (close does) to write the current window at once.
   */
  tallyRefusal(source: string, reason: string, dialect: string): void {
    if (this.tallies.size === 0) {
      this.windowStart = this.clock.now();
      if (!this.timer) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          void this.flushRefusals();
        }, this.tallyOptions.windowMs);
        this.timer.unref();
      }
    }
    let key = `${source}\n${reason}`;
    let t = this.tallies.get(key);
    if (!t && this.tallies.size >= this.tallyOptions.maxSources) {
      key = `*\n${reason}`;
      t = this.tallies.get(key);
    }
    if (!t) this.tallies.set(key, (t = { count: 0, dialects: new Set() }));
    t.count++;
    if (t.dialects.size < 8) t.dialects.add(dialect);
  }

  /** Writes the counted refusals (one event per source and reason) and starts a new window. */
  async flushRefusals(): Promise<number> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const tallies = this.tallies;
    if (tallies.size === 0) return 0;
    this.tallies = new Map();
    const from = this.windowStart;
    const to = this.clock.now();
    for (const [key, t] of tallies) {
      const nl = key.indexOf('\n');
      const source = key.slice(0, nl);
      await this.record('login.refused', { requestId: '', clientAddress: source, dialect: [...t.dialects].join(',') }, '', {
        reason: key.slice(nl + 1),
        count: t.count,
        from,
        to,
      });
    }
    return tallies.size;
  }

  /** Refusals counted and not yet written, per source (for operators: what the current window holds). */
  pendingRefusals(): { source: string; reason: string; count: number }[] {
    return [...this.tallies].map(([key, t]) => {
      const nl = key.indexOf('\n');
      return { source: key.slice(0, nl), reason: key.slice(nl + 1), count: t.count };
    });
  }

  async record(kind: AuditKind, ctx: AuditContext | undefined, username: string, detail: AuditRecord['detail'] = {}): Promise<void> {
    const c = ctx ?? SYSTEM;
    const event: AuditEvent = { at: this.clock.now(), kind, username, clientAddress: c.clientAddress, dialect: c.dialect, requestId: c.requestId, detail };
    this.sink?.emit(event);
    try {
      await this.store.appendAudit(event);
    } catch (e) {
      this.logger.error({ event: 'audit.write_failed', kind, user: username, err: e instanceof Error ? e.message : String(e) }, 'could not write the audit trail');
    }
  }

  query(filter: AuditFilter = {}): Promise<AuditRecord[]> {
    return this.store.queryAudit(filter);
  }

  /** Deletes events older than `retentionMs`; returns how many. */
  prune(retentionMs: number): Promise<number> {
    return this.store.pruneAudit(this.clock.now() - retentionMs);
  }
}
