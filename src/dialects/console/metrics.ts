import type { AuditRecord } from '../../ports/store.js';
import type { DialectDeps } from '../types.js';

export const MINUTE = 60_000;

/** Per-minute series for the dashboard's charts, all built on the server from data Portcullis keeps. */
export interface Metrics {
  /** Start of each minute (ms since the epoch), oldest first. */
  minutes: number[];
  logins: { success: number[]; failure: number[]; throttled: number[]; refused: number[] };
  lockouts: number[];
  /** Live sessions sampled each minute by this node (null where it was not running). */
  sessions: (number | null)[];
  totals: { success: number; failure: number; throttled: number; refused: number; lockouts: number };
}

/** Failures that are the brute-force defence at work (throttled source, locked account) rather than a wrong password. */
const THROTTLED = new Set(['source_throttled', 'account_locked']);
/** Logins refused although the credentials were right (policy). */
const REFUSED = new Set(['too_many_sessions', 'forbidden', 'second_factor_required']);

/**
 * Live sessions over time: one count a minute kept in memory (24 h), because
 * the store keeps the present, not a history. The audit trail gives the rest.
 */
export class SessionSampler {
  private readonly samples = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;
  private first: NodeJS.Timeout | undefined;

  constructor(private readonly deps: DialectDeps) {}

  start(): void {
    if (this.timer) return;
    // The first count a second after start, not during it: at 1 M stored sessions it is a 13–40 ms scan of an index.
    const first = setTimeout(() => void this.sample(), 1000);
    first.unref();
    this.timer = setInterval(() => void this.sample(), MINUTE);
    this.timer.unref();
    this.first = first;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.first) clearTimeout(this.first);
    this.timer = undefined;
    this.first = undefined;
  }

  async sample(): Promise<void> {
    try {
      const now = this.deps.clock.now();
      // Counted, not listed: a million stored sessions read into memory each minute stalled the whole service.
      const n = await this.deps.sessions.countSessions();
      this.samples.set(Math.floor(now / MINUTE) * MINUTE, n);
      for (const k of this.samples.keys()) if (k < now - 24 * 60 * MINUTE) this.samples.delete(k);
    } catch {
      // A store that does not answer leaves a gap in the chart, nothing else.
    }
  }

  at(minute: number): number | null {
    return this.samples.get(minute) ?? null;
  }
}

export async function buildMetrics(deps: DialectDeps, sampler: SessionSampler, hours: number): Promise<Metrics> {
  await sampler.sample();
  const now = deps.clock.now();
  const end = Math.floor(now / MINUTE) * MINUTE;
  const n = Math.round(hours * 60);
  const first = end - (n - 1) * MINUTE;
  const minutes = Array.from({ length: n }, (_, i) => first + i * MINUTE);
  const zeros = () => new Array<number>(n).fill(0);
  const m: Metrics = {
    minutes,
    logins: { success: zeros(), failure: zeros(), throttled: zeros(), refused: zeros() },
    lockouts: zeros(),
    sessions: minutes.map((t) => sampler.at(t)),
    totals: { success: 0, failure: 0, throttled: 0, refused: 0, lockouts: 0 },
  };
  const events: AuditRecord[] = await deps.audit.query({ kind: 'login.', since: first, limit: 200_000 });
  const locks = await deps.audit.query({ kind: 'account.lock', since: first, limit: 50_000 });
  for (const e of events) {
    const i = Math.floor((e.at - first) / MINUTE);
    if (i < 0 || i >= n) continue;
    if (e.kind === 'login.success') {
      m.logins.success[i]!++;
      m.totals.success++;
    } else if (e.kind === 'login.failure') {
      const reason = String(e.detail.reason ?? '');
      if (THROTTLED.has(reason)) {
        m.logins.throttled[i]!++;
        m.totals.throttled++;
      } else if (REFUSED.has(reason)) {
        m.logins.refused[i]!++;
        m.totals.refused++;
      } else {
        m.logins.failure[i]!++;
        m.totals.failure++;
      }
    }
  }
  for (const e of locks) {
    const i = Math.floor((e.at - first) / MINUTE);
    if (i >= 0 && i < n) {
      m.lockouts[i]!++;
      m.totals.lockouts++;
    }
  }
  return m;
}
