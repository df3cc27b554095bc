import type { AccountService } from '../core/accounts.js';
import type { AuditContext, AuditService } from '../core/audit.js';
import { CoreError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { SessionService } from '../core/sessions.js';
import type { Clock } from '../ports/clock.js';
import { FaultRules, type FaultRule, type FaultRuleInput } from './faults.js';
import type { Scenario, ScenarioAction } from './scenario.js';

/**
 * Portcullis's idea of "now", moved forward (or back) by an offset in client-testing
 * mode so idle and absolute expiry, lockout windows and password expiry can be
 * reached in seconds. Every core rule reads time through this clock.
 */
export class OffsetClock implements Clock {
  private offset = 0;
  constructor(private readonly base: Clock) {}
  now(): number {
    return this.base.now() + this.offset;
  }
  get offsetMs(): number {
    return this.offset;
  }
  set offsetMs(ms: number) {
    this.offset = ms;
  }
}

export type ExpiryKind = 'idle' | 'absolute';

export interface ClientTestingDeps {
  sessions: SessionService;
  accounts: AccountService;
  audit: AuditService;
  clock: OffsetClock;
  logger: Logger;
  maxRules: number;
}

/**
 * The controls of client-testing mode, in one place for the admin API, the CLI
 * (through the admin API) and scenario files. Every use is audited
 * (`testing.control`) and logged. Session controls go through the core, so what a
 * client sees is what the real rule produces.
 */
export class ClientTesting {
  readonly faults: FaultRules;
  /** Requests seen (control requests excluded): what scenario steps `at: {request: N}` count. */
  private requests = 0;
  private pendingByRequest: { n: number; index: number; action: ScenarioAction }[] = [];
  private timers: NodeJS.Timeout[] = [];
  readonly stepsDone: number[] = [];

  constructor(private readonly d: ClientTestingDeps) {
    this.faults = new FaultRules(d.maxRules);
  }

  get requestCount(): number {
    return this.requests;
  }

  get clockOffsetMs(): number {
    return this.d.clock.offsetMs;
  }

  private async audit(ctx: AuditContext, user: string, control: string, detail: Record<string, unknown>): Promise<void> {
    this.d.logger.warn({ event: 'testing.control', control, user, ...detail }, 'client-testing control used');
    await this.d.audit.record('testing.control', ctx, user, { control, ...detail } as Record<string, string | number | boolean>);
  }

  async addFault(input: FaultRuleInput, ctx: AuditContext, by: string): Promise<FaultRule> {
    let rule: FaultRule;
    try {
      rule = this.faults.add(input);
    } catch (e) {
      throw new CoreError('invalid_input', describe(e));
    }
    await this.audit(ctx, by, 'fault.add', { rule: rule.id, spec: JSON.stringify({ match: rule.match, effect: rule.effect, count: rule.count, afterSeconds: rule.afterSeconds, forSeconds: rule.forSeconds }) });
    return rule;
  }

  async removeFault(id: string, ctx: AuditContext, by: string): Promise<boolean> {
    const removed = this.faults.remove(id);
    if (removed) await this.audit(ctx, by, 'fault.remove', { rule: id });
    return removed;
  }

  async clearFaults(ctx: AuditContext, by: string): Promise<number> {
    const n = this.faults.clear();
    await this.audit(ctx, by, 'fault.clear', { rules: n });
    return n;
  }

  async setClockOffset(ms: number, ctx: AuditContext, by: string): Promise<number> {
    if (!Number.isSafeInteger(ms) || Math.abs(ms) > 10 * 365 * 86_400_000) throw new CoreError('invalid_input', 'the clock offset must be a whole number of milliseconds within ten years');
    const from = this.d.clock.offsetMs;
    this.d.clock.offsetMs = ms;
    await this.audit(ctx, by, 'clock.offset', { fromMs: from, toMs: ms });
    return ms;
  }

  /**
   * Ends a live session now as expiry ends it: the session is gone, every dialect
   * answers its token exactly as it answers an expired one, and the audit records
   * `session.expire`. Returns false when there is no live session of that id.
   */
  async expireSession(id: string, kind: ExpiryKind, ctx: AuditContext, by: string): Promise<boolean> {
    const s = await this.d.sessions.getSession(id);
    if (!s) return false;
    await this.d.sessions.expireNow(s, { cause: 'client-testing', kind });
    await this.audit(ctx, by, 'session.expire', { session: id, kind, user: s.username });
    return true;
  }

  /** Expires every live session of a user (all, when user is undefined). */
  async expireSessions(user: string | undefined, kind: ExpiryKind, ctx: AuditContext, by: string): Promise<number> {
    const list = await this.d.sessions.listSessions(user === undefined ? undefined : { username: user });
    for (const s of list) await this.d.sessions.expireNow(s, { cause: 'client-testing', kind });
    await this.audit(ctx, by, 'sessions.expire', { user: user ?? '*', kind, count: list.length });
    return list.length;
  }

  async revokeUser(user: string, ctx: AuditContext, by: string): Promise<number> {
    const n = await this.d.sessions.revokeUserSessions(user, { ...ctx }, `client-testing:${by}`);
    await this.audit(ctx, user, 'sessions.revoke', { count: n, by });
    return n;
  }

  async mustChange(user: string, value: boolean, ctx: AuditContext, by: string): Promise<number> {
    const n = await this.d.accounts.setMustChangePassword(user, value, ctx, `client-testing:${by}`);
    await this.audit(ctx, user, 'account.must_change', { mustChange: value, sessions: n, by });
    return n;
  }

  async lock(user: string, ctx: AuditContext, by: string): Promise<number> {
    const { lockedUntil } = await this.d.accounts.lock(user, ctx, `client-testing:${by}`);
    await this.audit(ctx, user, 'account.lock', { lockedUntil, by });
    return lockedUntil;
  }

  async unlock(user: string, ctx: AuditContext, by: string): Promise<boolean> {
    const was = await this.d.accounts.unlock(user, ctx, `client-testing:${by}`);
    await this.audit(ctx, user, 'account.unlock', { wasLocked: was, by });
    return was;
  }

  /** Applies one scenario action (also what the admin API's controls share). */
  async apply(action: ScenarioAction, ctx: AuditContext, by: string): Promise<unknown> {
    if ('fault' in action) return this.addFault(action.fault, ctx, by);
    if ('clearFaults' in action) return this.clearFaults(ctx, by);
    if ('clock' in action) return this.setClockOffset(Math.round(action.clock.offsetMinutes * 60_000), ctx, by);
    if ('expireSessions' in action) return this.expireSessions(action.expireSessions.user, action.expireSessions.kind, ctx, by);
    if ('revokeSessions' in action) return this.revokeUser(action.revokeSessions.user, ctx, by);
    if ('mustChangePassword' in action) return this.mustChange(action.mustChangePassword.user, action.mustChangePassword.value, ctx, by);
    if ('lock' in action) return this.lock(action.lock.user, ctx, by);
    return this.unlock(action.unlock.user, ctx, by);
  }

  /** Starts a scenario: request-counted steps wait for `noteRequest`, timed steps get timers (unref'd). */
  load(scenario: Scenario): void {
    const ctx: AuditContext = { requestId: '', clientAddress: '', dialect: 'scenario' };
    scenario.steps.forEach((step, index) => {
      if ('request' in step.at) {
        this.pendingByRequest.push({ n: step.at.request, index, action: step.do });
      } else {
        const t = setTimeout(() => void this.runStep(index, step.do, ctx), step.at.afterSeconds * 1000);
        t.unref();
        this.timers.push(t);
      }
    });
    this.pendingByRequest.sort((a, b) => a.n - b.n || a.index - b.index);
  }

  /**
   * Counts a request and runs the scenario steps due at it, before the request is
   * handled: "at request 3" means the third request already sees the step.
   */
  async noteRequest(): Promise<void> {
    this.requests++;
    while (this.pendingByRequest.length > 0 && this.pendingByRequest[0]!.n <= this.requests) {
      const next = this.pendingByRequest.shift()!;
      await this.runStep(next.index, next.action, { requestId: '', clientAddress: '', dialect: 'scenario' });
    }
  }

  private async runStep(index: number, action: ScenarioAction, ctx: AuditContext): Promise<void> {
    try {
      await this.apply(action, ctx, `scenario step ${index + 1}`);
      this.stepsDone.push(index + 1);
    } catch (e) {
      this.d.logger.error({ event: 'testing.scenario_step_failed', step: index + 1, err: describe(e) }, 'scenario step failed');
    }
  }

  close(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
  }
}

function describe(e: unknown): string {
  if (e && typeof e === 'object' && 'issues' in e && Array.isArray((e as { issues: unknown[] }).issues)) {
    return (e as { issues: { path: (string | number)[]; message: string }[] }).issues.map((i) => `${i.path.join('.') || 'rule'}: ${i.message}`).join('; ');
  }
  return e instanceof Error ? e.message : String(e);
}
