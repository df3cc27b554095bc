import { z } from 'zod';
import { errorCodes, type ErrorCode } from '../core/errors.js';

/**
 * Fault rules of client-testing mode: which requests (dialect, operation, method,
 * path, user) get which effect (a status or core error in the dialect's own
 * envelope, a delay, a dropped connection, a truncated body), for how many
 * requests or how long. Rules apply in order, the first that matches wins; a rule
 * vanishes when its count is spent or its window has passed.
 */

/** What a request does, as fault rules name it. */
export const OPERATIONS = ['login', 'check', 'logout', 'list', 'other'] as const;
export type Operation = (typeof OPERATIONS)[number];

const CORE_CODES = Object.keys(errorCodes) as [ErrorCode, ...ErrorCode[]];

export const faultRuleSchema = z
  .object({
    match: z
      .object({
        /** Dialect name: hcx, lxca, admin, redfish, vcenter, gateway … */
        dialect: z.string().min(1).max(32).optional(),
        op: z.enum(OPERATIONS).optional(),
        method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']).optional(),
        /** A path prefix ("/sessions"), or a route pattern as registered ("/sessions/:id"). */
        path: z.string().min(1).max(512).startsWith('/').optional(),
        /** The user: the login's user name, HTTP Basic's, or the session's. */
        user: z.string().min(1).max(256).optional(),
      })
      .strict()
      .prefault({}),
    effect: z
      .object({
        /** Answer with this status, in the dialect's own error envelope for it. */
        status: z.number().int().min(400).max(599).optional(),
        /** Answer with this core error (its dialect status and body), e.g. identity_unavailable, unavailable, invalid_session. */
        error: z.enum(CORE_CODES).optional(),
        /** Wait this long first (alone: the request then proceeds normally). */
        delayMs: z.number().int().min(0).max(120_000).optional(),
        /** Close the connection without an answer. */
        drop: z.boolean().optional(),
        /** Send the real answer's headers and half its body, then close. */
        truncate: z.boolean().optional(),
      })
      .strict()
      .refine((e) => [e.status !== undefined || e.error !== undefined, e.drop, e.truncate].filter(Boolean).length <= 1, {
        message: 'choose one of status/error, drop or truncate (delayMs goes with any)',
      })
      .refine((e) => e.status !== undefined || e.error !== undefined || e.drop || e.truncate || e.delayMs !== undefined, {
        message: 'an effect needs status, error, delayMs, drop or truncate',
      }),
    /** Fire this many times, then vanish (default: until cleared or its window ends). */
    count: z.number().int().min(1).max(1_000_000).optional(),
    /** Start this many seconds after the rule is added. */
    afterSeconds: z.number().min(0).max(86_400).optional(),
    /** Stay this many seconds (from its start), then vanish. */
    forSeconds: z.number().positive().max(86_400).optional(),
  })
  .strict();

export type FaultRuleInput = z.input<typeof faultRuleSchema>;
export type FaultRuleSpec = z.output<typeof faultRuleSchema>;

export interface FaultRule extends FaultRuleSpec {
  id: string;
  /** Wall-clock ms when it was added. */
  addedAt: number;
  fired: number;
}

/** What a request looks like to the rules. */
export interface RequestFacts {
  dialect: string;
  op: Operation;
  method: string;
  /** The path without its query. */
  path: string;
  /** The route pattern as registered ("/sessions/:id"), when known. */
  route: string | undefined;
  /** Resolved lazily: only rules with a `user` matcher ask. */
  user(): Promise<string | undefined>;
}

export type FaultEffect = FaultRuleSpec['effect'];

/** The ordered list of rules; matching, counting and expiry. */
export class FaultRules {
  private rules: FaultRule[] = [];
  private seq = 0;

  constructor(
    private readonly max: number,
    private readonly wallNow: () => number = Date.now,
  ) {}

  add(input: FaultRuleInput): FaultRule {
    const spec = faultRuleSchema.parse(input);
    this.prune();
    if (this.rules.length >= this.max) throw new RangeError(`at most ${this.max} fault rules at once (clientTesting.maxRules)`);
    const rule: FaultRule = { ...spec, id: `f${++this.seq}`, addedAt: this.wallNow(), fired: 0 };
    this.rules.push(rule);
    return rule;
  }

  list(): FaultRule[] {
    this.prune();
    return this.rules.map((r) => ({ ...r }));
  }

  remove(id: string): boolean {
    const before = this.rules.length;
    this.rules = this.rules.filter((r) => r.id !== id);
    return this.rules.length < before;
  }

  clear(): number {
    const n = this.rules.length;
    this.rules = [];
    return n;
  }

  get size(): number {
    return this.rules.length;
  }

  /** The first live rule that matches (counted as fired), or undefined. */
  async match(req: RequestFacts): Promise<FaultRule | undefined> {
    this.prune();
    const now = this.wallNow();
    let user: string | undefined | null = null;
    for (const r of this.rules) {
      if (!this.started(r, now)) continue;
      const m = r.match;
      if (m.dialect !== undefined && m.dialect !== req.dialect) continue;
      if (m.op !== undefined && m.op !== req.op) continue;
      if (m.method !== undefined && m.method !== req.method) continue;
      if (m.path !== undefined && m.path !== req.route && !req.path.startsWith(m.path)) continue;
      if (m.user !== undefined) {
        if (user === null) user = await req.user();
        if (user === undefined || user.toLowerCase() !== m.user.toLowerCase()) continue;
      }
      r.fired++;
      if (r.count !== undefined && r.fired >= r.count) this.remove(r.id);
      return { ...r };
    }
    return undefined;
  }

  private started(r: FaultRule, now: number): boolean {
    return now >= r.addedAt + (r.afterSeconds ?? 0) * 1000;
  }

  /** Drops rules whose window has passed. */
  private prune(): void {
    const now = this.wallNow();
    this.rules = this.rules.filter((r) => r.forSeconds === undefined || now < r.addedAt + ((r.afterSeconds ?? 0) + r.forSeconds) * 1000);
  }
}

/**
 * The operation of a route, for rules that say `op`: logins create sessions,
 * checks read the caller's own session, lists read many, logouts end one.
 * Decided from the route pattern so every dialect (and every dialect added later)
 * is classified without a table of its own.
 */
export function operationOf(method: string, route: string | undefined, url: string): Operation {
  const r = (route ?? url.split('?', 1)[0]!).replace(/\/+$/, '');
  const query = url.includes('?') ? url.slice(url.indexOf('?')) : '';
  const collection = /\/sessions$/i.test(r);
  const member = /\/sessions\/:[^/]+$/i.test(r);
  const single = /\/(session|cis\/session)$/i.test(r);
  // HCX's GET of its sessions collection is "who am I": the check every HCX client polls.
  const hcxCheck = /\/api\/admin\/v1\/sessions$/.test(r) || /\/hybridity\/api\/sessions$/.test(r);
  if (method === 'POST' && /[?&]~action=get\b/.test(query)) return 'check';
  if (method === 'POST' && (collection || single)) return 'login';
  if (method === 'DELETE' && (collection || member || single)) return 'logout';
  if ((method === 'GET' || method === 'HEAD') && (single || member || hcxCheck)) return 'check';
  if ((method === 'GET' || method === 'HEAD') && collection) return 'list';
  return 'other';
}

/** The core error a status stands for, so a faulted answer is the dialect's own body for that status. */
export function problemForStatus(status: number): ErrorCode {
  switch (status) {
    case 400:
      return 'invalid_input';
    case 401:
      return 'invalid_session';
    case 403:
      return 'forbidden';
    case 404:
      return 'not_found';
    case 409:
      return 'conflict';
    case 503:
      return 'unavailable';
    default:
      return status >= 500 ? 'internal' : 'invalid_input';
  }
}
