import type { Clock } from '../ports/clock.js';
import { IdentitySourceError, type IdentityProvider, type Principal } from '../ports/identity.js';
import type { Random } from '../ports/random.js';
import type { AccountStore, LoginGuardStore, PasswordHistoryStore, SessionLimitStore, SessionRecord, SessionStore } from '../ports/store.js';
import { AdmissionRefusal, sessionChecks, type ActivityMeter, type AdmissionController, type AdmissionPass, type KnownClients } from './admission.js';
import type { AuditService } from './audit.js';
import type { AccountSettings, SettingsService } from './settings.js';
import { CoreError } from './errors.js';
import { splitPasswordAndCode, type SecondFactorService } from './second-factor.js';
import { passwordProblem, usernameProblem, normalizeUsername } from './input.js';
import type { Logger } from './logger.js';
import { foldName, identityOf, parseIdentity } from './identity-key.js';
import { backendOf, metrics, noMetrics, type LoginOutcome } from '../ports/metrics.js';
import { hashToken, isTokenShaped, newCsrfToken, newSessionId, newToken, sameSecret, tokenKey } from './tokens.js';

export interface SessionPolicy {
  /** Inactivity after which a session ends; 0 = never. */
  idleTimeoutMs: number;
  /** Lifetime after which a session ends whatever its activity. Must be > 0. */
  absoluteLifetimeMs: number;
}

/** Who is asking, for the audit and the logs. */
export interface RequestContext {
  requestId: string;
  clientAddress: string;
  dialect: string;
}

export type RoleRequirement = readonly string[] | 'any';

export interface LoginCommand {
  /** Name of the identity provider that checks the credentials. */
  provider: string;
  username: string;
  password: string;
  /** Roles of which the user needs at least one; 'any' = at least one role of any name. */
  requiredRoles: RoleRequirement;
  /**
   * The second-factor code from a field of its own (the console). Absent: for an
   * account with a second factor, the password's last 6 digits are the code (FreeIPA style).
   */
  secondFactor?: string;
  /**
   * The login may proceed without a factor that policy requires, because the caller
   * (the console) sends the user to enrolment before anything else; the session is
   * restricted until then. API dialects leave it unset.
   */
  allowsEnrolment?: boolean;
}

export type CredentialResult =
  | { kind: 'ok'; principal: Principal }
  | { kind: 'invalid_credentials' }
  | { kind: 'forbidden'; principal: Principal };

export type LoginResult =
  | { kind: 'ok'; session: SessionRecord; token: string }
  | { kind: 'invalid_credentials' }
  | { kind: 'forbidden'; principal: Principal }
  | { kind: 'too_many_sessions'; limit: number };

/**
 * Brute-force defence numbers that are not XClarity settings (those are
 * MaximumLoginFailures and LockoutTime). Durations in milliseconds.
 */
export interface BruteForcePolicy {
  /** Failures from one source address that throttle it (all its logins refused); must stay below MaximumLoginFailures / 2. */
  sourceMaxFailures: number;
  /** How long a source's failures are counted, and how long a throttled source stays throttled. */
  sourceWindowMs: number;
  /** A source from which a user logged in successfully within this time may log in to the account even while it is locked. */
  trustedSourceMs: number;
}

/** Window in which account failures are counted (NIST SP 800-63B counts per hour). */
export const ACCOUNT_FAILURE_WINDOW_MS = 60 * 60_000;

/**
 * Failures that throttle one source: the configured number, but never more than
 * half of MaximumLoginFailures, so a single address can never lock an account.
 */
export function sourceFailureLimit(bf: BruteForcePolicy, s: Pick<AccountSettings, 'MaximumLoginFailures'>): number {
  return Math.max(1, Math.min(bf.sourceMaxFailures, Math.floor(s.MaximumLoginFailures / 2)));
}

/**
 * The address brute-force counters are kept under: an IPv4 address as is, an IPv6
 * address by its /64 prefix (one subscriber usually holds a whole /64, so counting
 * single IPv6 addresses would let one attacker use 2^64 of them).
 *
 * @example sourceKey('2001:db8:1:2:aaaa::1') === '2001:db8:1:2::/64'
 */
export function sourceKey(address: string): string {
  if (!address.includes(':')) return address;
  const [head = '', tail = ''] = address.split('::', 2) as [string?, string?];
  const h = head ? head.split(':') : [];
  const t = address.includes('::') ? (tail ? tail.split(':') : []) : [];
  // An embedded IPv4 tail (::ffff:1.2.3.4) takes two groups.
  const groups = (g: string[]) => g.reduce((n, x) => n + (x.includes('.') ? 2 : 1), 0);
  const full = address.includes('::') ? [...h, ...Array<string>(Math.max(0, 8 - groups(h) - groups(t))).fill('0'), ...t] : h;
  if (full.length < 4 || !full.slice(0, 4).every((x) => /^[0-9a-f]{1,4}$/i.test(x))) return address.toLowerCase();
  return `${full.slice(0, 4).map((x) => parseInt(x, 16).toString(16)).join(':')}::/64`;
}

/** Why a login was refused, kept in the audit trail and the log (never shown to the caller). */
export type FailureReason = 'invalid_credentials' | 'disabled' | 'locked' | 'account_locked' | 'source_throttled' | 'forbidden' | 'invalid_second_factor' | 'second_factor_required';

/**
 * A session is alive while `now < expiresAt` and, when it has an idle timeout,
 * `now < lastAccessedAt + idleTimeoutMs`. At the boundary itself it has expired.
 */
/** How stale a trusted source's "last success" may get before a login writes it again. */
const TRUSTED_SOURCE_REFRESH_MS = 60 * 60_000;

export function isExpired(s: SessionRecord, now: number): boolean {
  return now >= s.expiresAt || (s.idleTimeoutMs > 0 && now >= s.lastAccessedAt + s.idleTimeoutMs);
}

export function hasRequiredRole(roles: readonly string[], required: RoleRequirement): boolean {
  if (required === 'any') return roles.length > 0;
  return roles.some((r) => required.includes(r));
}

export interface SessionServiceDeps {
  sessions: SessionStore & SessionLimitStore;
  accounts: AccountStore & PasswordHistoryStore;
  guard: LoginGuardStore;
  settings: SettingsService;
  audit: AuditService;
  identities: ReadonlyMap<string, IdentityProvider>;
  clock: Clock;
  random: Random;
  logger: Logger;
  /** The configured defaults (the settings in force may differ: see SettingsService). */
  policy: SessionPolicy;
  bruteForce: BruteForcePolicy;
  /** Where session checks are counted for the hashing admission; default the process's {@link sessionChecks}. */
  checkMeter?: ActivityMeter;
  /** `identity.domains`: `u@domain` and `DOMAIN\u` share the failure key of `u` (see identity-key.ts); default none. */
  domains?: readonly string[];
  /**
   * The login scheduler (the password hashing's admission): every login is admitted
   * before any store read or refused at once (its source at its limit, the lanes
   * full); logins through a provider that hashes here (local) then wait for their
   * verification in their lane. Without it, logins are not scheduled.
   */
  admission?: Pick<AdmissionController, 'admit'>;
  /** Which (account, source) pairs logged in before, in memory: they go to the known lane. */
  knownClients?: KnownClients;
  /** TOTP second factors; absent = no account has one. */
  secondFactors?: SecondFactorService;
}

/** What a session whose password must change may still do. */
export type SessionAction = 'use' | 'change_password' | 'logout';

/**
 * The session use cases: login, check, touch, logout, list, revoke. Knows nothing
 * of HTTP or of any dialect; dialects translate requests into these calls and
 * render what comes back.
 */
export class SessionService {
  constructor(private readonly d: SessionServiceDeps) {}

  get policy(): SessionPolicy {
    return this.d.policy;
  }

  /**
   * Checks credentials against a provider and the role requirement, without making
   * a session, under the brute-force rules (docs/account-policy.md "Brute-force defence"):
   *
   * - every failure counts against the source address and, while the source is
   *   not throttled, against the account (one atomic store call each);
   * - a throttled source or a locked account gets invalid_credentials whatever the
   *   password, unless the source is trusted for that account (the user logged in
   *   from it within `trustedSourceMs`);
   * - the password is checked on every path, so neither the answer nor its time
   *   tells a lock from a wrong password.
   */
  async verifyCredentials(cmd: LoginCommand, ctx: RequestContext, settings?: AccountSettings): Promise<CredentialResult> {
    const checked = await this.counted(cmd, ctx, () => this.checkCredentials(cmd, ctx, settings));
    if (checked.kind === 'ok') metrics().login(ctx.dialect, cmd.provider, checked.principal.mustChangePassword ? 'must_change' : 'success');
    return checked;
  }

  /** Runs a credential check, counting the service's own failures (busy, a backend down); refusals are counted in {@link refused}. */
  private async counted<T>(cmd: LoginCommand, ctx: RequestContext, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof CoreError && (e.code === 'busy' || e.code === 'unavailable' || e.code === 'identity_unavailable' || e.code === 'internal')) {
        metrics().login(ctx.dialect, cmd.provider, e.code === 'busy' ? 'refused_busy' : 'error');
      }
      throw e;
    }
  }

  private async checkCredentials(cmd: LoginCommand, ctx: RequestContext, settings?: AccountSettings): Promise<CredentialResult> {
    const provider = this.d.identities.get(cmd.provider);
    if (!provider) throw new CoreError('unsupported_auth_type', `no identity provider named "${cmd.provider}"`);
    const uProblem = usernameProblem(cmd.username);
    if (uProblem) throw new CoreError('invalid_input', `username ${uProblem}`);
    const pProblem = passwordProblem(cmd.password);
    if (pProblem) throw new CoreError('invalid_input', `password ${pProblem}`);
    const username = normalizeUsername(cmd.username);
    const source = sourceKey(ctx.clientAddress);
    // Before the source is asked, the person is known only by the folded typed name: every spelling shares its counter and lock,
    // and the known-client lane is keyed by it too.
    const key = this.failureKey(username);
    // Admitted or refused now, before the settings, guard and account reads a refused login would waste.
    let pass: AdmissionPass | undefined;
    if (this.d.admission) {
      try {
        pass = this.d.admission.admit({ source, account: key }, this.d.knownClients?.has(key, source) ?? false);
      } catch (e) {
        if (e instanceof AdmissionRefusal) this.d.audit.tallyRefusal(source, e.reason, ctx.dialect);
        throw e;
      }
    }
    try {
      return await this.checkAdmitted(cmd, ctx, provider, username, key, source, pass, settings);
    } catch (e) {
      if (e instanceof AdmissionRefusal) this.d.audit.tallyRefusal(source, e.reason, ctx.dialect);
      throw e;
    } finally {
      pass?.release();
    }
  }

  private async checkAdmitted(
    cmd: LoginCommand,
    ctx: RequestContext,
    provider: IdentityProvider,
    username: string,
    key: string,
    source: string,
    pass: AdmissionPass | undefined,
    settings: AccountSettings | undefined,
  ): Promise<CredentialResult> {
    const policy = settings ?? (await this.d.settings.get());
    const bf = this.d.bruteForce;
    const startedAt = this.d.clock.now();

    const sf = this.d.secondFactors;
    const [sourceState, typedState, lastFromSource, factor] = await Promise.all([
      this.d.guard.getLoginFailures('source', source, startedAt, bf.sourceWindowMs),
      this.d.guard.getLoginFailures('account', key, startedAt, ACCOUNT_FAILURE_WINDOW_MS),
      this.d.guard.lastLoginFromSource(key, source),
      sf ? this.typedFactor(sf, provider.name, username) : Promise.resolve(null),
    ]);
    let accountState = typedState;
    if (lastFromSource !== null && pass && !pass.known) {
      // A returning client this node did not know yet (another node's, or older than its memory).
      pass.promote();
      this.d.knownClients?.learn(key, source);
    }

    // An account with a second factor: the code comes in its own field, or as the password's last 6 digits.
    const split = factor && cmd.secondFactor === undefined ? splitPasswordAndCode(cmd.password) : { password: cmd.password, code: cmd.secondFactor ?? null };
    // Matched before the password's outcome is known, and on every path: the time does not tell which part was wrong.
    const codeMatch = factor && sf ? sf.match(factor, split.code) : null;

    let outcome;
    try {
      // Providers that hash here wait for a verification in the login's lane; the others (PAM, LDAP) bound their own work.
      outcome = pass && hashesHere(provider) ? await pass.run(() => provider.authenticate(username, split.password)) : await provider.authenticate(username, split.password);
    } catch (e) {
      // "Not now" from the hashing admission or the account store is the service's own state, not the identity source's.
      if (e instanceof CoreError && (e.code === 'busy' || e.code === 'unavailable')) throw e;
      const reason = e instanceof IdentitySourceError ? e.message : 'unexpected error in identity provider';
      const backend = e instanceof IdentitySourceError ? backendOf(e.source) : undefined;
      if (backend) metrics().backendError(backend, /within \d+ ?ms|timed? ?out/i.test(reason) ? 'timeout' : 'error');
      this.d.logger.error(
        { event: 'login.source_error', reqId: ctx.requestId, user: username, provider: provider.name, dialect: ctx.dialect, err: errText(e) },
        reason,
      );
      throw new CoreError('identity_unavailable', reason, { cause: e });
    }

    // After the source answered, the canonical identity takes over: when its key differs from the typed one
    // (a directory filter that also matches mail, say), its counter and lock apply as well.
    const who = outcome.ok ? { username: outcome.principal.username, source: outcome.principal.source } : outcome.identity;
    const identity = who ? identityOf(who) : undefined;
    const keys = [key];
    let canonicalTrust: number | null = null;
    if (who) {
      const ckey = this.failureKey(who.username);
      if (ckey !== key) {
        keys.push(ckey);
        const [cstate, clast] = await Promise.all([
          this.d.guard.getLoginFailures('account', ckey, startedAt, ACCOUNT_FAILURE_WINDOW_MS),
          this.d.guard.lastLoginFromSource(ckey, source),
        ]);
        canonicalTrust = clast;
        if (cstate.locked || (!accountState.locked && cstate.count > accountState.count)) accountState = cstate;
        if (typedState.locked) accountState = typedState;
      }
    }
    const lastTrusted = Math.max(lastFromSource ?? -Infinity, canonicalTrust ?? -Infinity);
    const trusted = Number.isFinite(lastTrusted) && startedAt - lastTrusted < bf.trustedSourceMs;
    const audited = { user: identity ?? key, typed: username };

    const blocked: FailureReason | null = trusted ? null : sourceState.locked ? 'source_throttled' : accountState.locked ? 'account_locked' : null;
    let secondFactorFailed = false;
    let mustEnrol = false;
    if (sf && outcome.ok && blocked === null) {
      // The factor is the canonical identity's; the one found from the typed name must be that one (fail closed otherwise).
      const mine = identity !== undefined && factor?.username === identity ? factor : identity !== undefined ? await sf.confirmedFactor(identity) : null;
      if (factor || mine) {
        // The right password with a missing, wrong or replayed code is a failed login like any other: it counts.
        if (!factor || !mine || mine.username !== factor.username || codeMatch === null || !(await sf.spend(factor, codeMatch, ctx))) {
          secondFactorFailed = true;
          outcome = { ok: false as const, reason: 'invalid_credentials' as const, identity: who };
        }
      } else {
        mustEnrol = sf.requiredFor(outcome.principal.roles, outcome.principal.source);
      }
    }
    if (outcome.ok && blocked === null) {
      if (!hasRequiredRole(outcome.principal.roles, cmd.requiredRoles)) {
        await this.refused(audited, provider.name, 'forbidden', ctx);
        return { kind: 'forbidden', principal: outcome.principal };
      }
      if (mustEnrol && !cmd.allowsEnrolment) {
        await this.refused(audited, provider.name, 'second_factor_required', ctx);
        return { kind: 'forbidden', principal: outcome.principal };
      }
      // A successful login resets the account's counters (XClarity) and makes this source trusted for the account —
      // except through a trusted source, which passes the lock anyway: there the counter holds failures from elsewhere,
      // and resetting them at every login of the owner would give attackers a fresh run of guesses each time (B7 measured
      // 22 guesses succeeding so, while the owner logged in every second).
      const now = this.d.clock.now();
      await Promise.all([
        ...(!trusted && (accountState.count > 0 || accountState.locked || typedState.count > 0) ? keys.map((k) => this.d.guard.clearLoginFailures('account', k)) : []),
        // Trust lasts weeks: refreshing it once an hour is enough, and spares most logins a committed write.
        ...keys.map((k, i) => {
          const last = i === 0 ? lastFromSource : canonicalTrust;
          return last !== null && now - last < TRUSTED_SOURCE_REFRESH_MS ? Promise.resolve() : this.d.guard.rememberLoginSource(k, source, now);
        }),
      ]);
      this.d.knownClients?.learn(key, source);
      const p = outcome.principal;
      // An expired password is a must-change password, for sessions and for HTTP Basic alike.
      // A session that must still enrol a required second factor is restricted like one whose password must
      // change (every dialect refuses it but for the password change and logout) until completeEnrolment.
      const mustChangePassword = mustEnrol || p.mustChangePassword || (await this.passwordExpired(p, policy, now));
      return { kind: 'ok', principal: mustChangePassword === p.mustChangePassword ? p : { ...p, mustChangePassword } };
    }
    if (outcome.ok) {
      // The right password through a throttled source or on a locked account: refused, not counted.
      await this.refused(audited, provider.name, blocked!, ctx);
      return { kind: 'invalid_credentials' };
    }

    const now = this.d.clock.now();
    const sourceLimit = sourceFailureLimit(bf, policy);
    const counted = await this.d.guard.recordLoginFailure('source', source, now, { limit: sourceLimit, windowMs: bf.sourceWindowMs, lockMs: bf.sourceWindowMs });
    // Failures beyond the source's limit do not count against the account: one address cannot lock it.
    const countsForAccount = trusted || counted.count <= sourceLimit;
    const reason: FailureReason = secondFactorFailed ? 'invalid_second_factor' : outcome.reason === 'locked' ? 'locked' : outcome.reason;
    if (countsForAccount && policy.MaximumLoginFailures > 0) {
      const rule = { limit: policy.MaximumLoginFailures, windowMs: ACCOUNT_FAILURE_WINDOW_MS, lockMs: policy.LockoutTime * 60_000 };
      const all = await Promise.all(keys.map((k) => this.d.guard.recordLoginFailure('account', k, now, rule)));
      const acc = all.reduce((a, b) => (b.count > a.count ? b : a));
      const lockedNow = all.some((r) => r.lockedNow);
      await this.refused(audited, provider.name, blocked ?? reason, ctx, { accountFailures: acc.count, sourceFailures: counted.count });
      if (lockedNow) {
        metrics().accountLocked();
        this.d.logger.warn(
          { event: 'account.lock', reqId: ctx.requestId, user: audited.user, failures: acc.count, until: acc.lockedUntil, client: source, dialect: ctx.dialect },
          'account locked after repeated login failures',
        );
        await this.d.audit.record('account.lock', ctx, audited.user, { failures: acc.count, lockedUntil: acc.lockedUntil, lockoutMinutes: policy.LockoutTime, typed: username });
      }
    } else {
      await this.refused(audited, provider.name, blocked ?? reason, ctx, { sourceFailures: counted.count });
    }
    if (counted.lockedNow) {
      metrics().sourceThrottled();
      this.d.logger.warn({ event: 'source.throttle', reqId: ctx.requestId, client: source, failures: counted.count, dialect: ctx.dialect }, 'source address throttled after repeated login failures');
    }
    return { kind: 'invalid_credentials' };
  }

  /**
   * The confirmed second factor of the identity a typed name would be, looked up
   * before the source is asked (the password must be split first): the local
   * account's name, then `<source>:<name>` for each other source of the chain.
   */
  private async typedFactor(sf: SecondFactorService, providerName: string, username: string) {
    const candidates = providerName.split(',').map((src) => identityOf({ source: src, username }));
    const found = await Promise.all(candidates.map((c) => sf.confirmedFactor(c)));
    return found.find((f) => f !== null) ?? null;
  }

  /** The pre-bind failure key of a typed name (identity-key.ts {@link foldName}). */
  failureKey(typed: string): string {
    return foldName(normalizeUsername(typed), this.d.domains ?? []);
  }

  /** Audits a refusal under the canonical identity when the source named it (else the failure key), with what was typed. */
  private async refused(who: { user: string; typed: string }, provider: string, reason: FailureReason, ctx: RequestContext, counts: Record<string, number> = {}): Promise<void> {
    metrics().login(ctx.dialect, provider, COUNTED_AS[reason]);
    if (reason === 'source_throttled') {
      // A throttled source's attempts are counted in bulk (per source per minute), not a row and a log line each.
      this.d.audit.tallyRefusal(sourceKey(ctx.clientAddress), reason, ctx.dialect);
      return;
    }
    this.d.logger.info(
      { event: reason === 'forbidden' ? 'login.forbidden' : 'login.failure', reqId: ctx.requestId, user: who.user, provider, reason, client: ctx.clientAddress, dialect: ctx.dialect, ...counts },
      reason === 'forbidden' ? 'authenticated without a permitted role' : 'login refused',
    );
    await this.d.audit.record('login.failure', ctx, who.user, { reason, provider, typed: who.typed, ...counts });
  }

  /** Whether a local account's password is older than MaximumPasswordExpiration days. */
  private async passwordExpired(p: Principal, settings: AccountSettings, now: number): Promise<boolean> {
    if (p.source !== 'local' || settings.MaximumPasswordExpiration <= 0) return false;
    const [last] = await this.d.accounts.getPasswordHistory(p.username, 1);
    const since = last?.at ?? (await this.d.accounts.getAccount(p.username))?.updatedAt;
    return since !== undefined && now >= since + settings.MaximumPasswordExpiration * 86_400_000;
  }

  /** Checks credentials and, when they pass, commits a new session with a fresh token. */
  async login(cmd: LoginCommand, ctx: RequestContext): Promise<LoginResult> {
    const settings = await this.d.settings.get();
    const checked = await this.counted(cmd, ctx, () => this.checkCredentials(cmd, ctx, settings));
    if (checked.kind !== 'ok') return checked;
    const p = checked.principal;
    const now = this.d.clock.now();
    const mustChangePassword = p.mustChangePassword;
    const token = newToken(this.d.random);
    const session: SessionRecord = {
      id: newSessionId(this.d.random),
      tokenHash: hashToken(token),
      csrf: newCsrfToken(this.d.random),
      // The canonical identity (identity-key.ts): every per-user rule below and after keys on it.
      username: identityOf(p),
      roles: [...p.roles],
      organizations: [...p.organizations],
      enterprise: p.enterprise,
      mustChangePassword,
      createdAt: now,
      lastAccessedAt: now,
      // New sessions take the settings in force now; existing ones keep theirs.
      idleTimeoutMs: settings.InactivityTimeout * 60_000,
      expiresAt: now + settings.SessionLifetime * 60_000,
      clientAddress: ctx.clientAddress,
      authSource: p.source,
      authServer: p.authServer,
      dialect: ctx.dialect,
    };
    // Refuse, rather than end another session: ending the oldest would let anyone holding the password silently log the owner out.
    if (!(await this.d.sessions.createSessionWithinLimit(session, settings.MaxConcurrentSessions, now))) {
      this.d.logger.info(
        { event: 'login.too_many_sessions', reqId: ctx.requestId, user: session.username, limit: settings.MaxConcurrentSessions, client: ctx.clientAddress, dialect: ctx.dialect },
        'login refused: concurrent session limit',
      );
      metrics().login(ctx.dialect, cmd.provider, 'too_many_sessions');
      await this.d.audit.record('login.failure', ctx, session.username, { reason: 'too_many_sessions', limit: settings.MaxConcurrentSessions, typed: normalizeUsername(cmd.username) });
      return { kind: 'too_many_sessions', limit: settings.MaxConcurrentSessions };
    }
    this.d.logger.info(
      { event: 'login.success', reqId: ctx.requestId, user: session.username, session: session.id, provider: p.source, client: ctx.clientAddress, dialect: ctx.dialect },
      'session created',
    );
    metrics().login(ctx.dialect, cmd.provider, mustChangePassword ? 'must_change' : 'success');
    await this.d.audit.record('login.success', ctx, session.username, { session: session.id, provider: p.source, pwChangeRequired: mustChangePassword, typed: normalizeUsername(cmd.username) });
    return { kind: 'ok', session, token };
  }

  /**
   * The hot path: resolves a bearer token to its live session, or null. With
   * `touch`, the activity renews the idle timer (not for automated polling such
   * as XClarity's `X-NOT-USER-INPUT: checkSession`). `dialect` names the caller in
   * the metrics (a dialect's name, never anything from the request); null = not
   * counted (a fast route, whose caller counts what it answers).
   */
  async authenticate(token: string | undefined, touch: boolean, dialect: string | null = 'other'): Promise<SessionRecord | null> {
    (this.d.checkMeter ?? sessionChecks).note();
    const m = dialect === null ? noMetrics : metrics();
    dialect ??= '';
    if (token === undefined || !isTokenShaped(token)) {
      m.sessionCheck(dialect, 'invalid');
      return null;
    }
    const key = tokenKey(token);
    try {
      // In memory, sessions are kept by their token hash: the key's equality is the hash's. From the backend, the
      // row's hash is compared in constant time (a row is never taken for another token's).
      let s = this.d.sessions.cachedSession?.(key);
      if (s === undefined) {
        const hash = Buffer.from(key, 'latin1');
        const found = await this.d.sessions.findSessionByTokenHash(hash);
        if (!found || !sameSecret(found.tokenHash, hash)) {
          m.sessionCheck(dialect, 'invalid');
          return null;
        }
        s = found;
      }
      const now = this.d.clock.now();
      if (isExpired(s, now)) {
        m.sessionCheck(dialect, 'expired');
        this.endExpired(s);
        return null;
      }
      if (touch && now > s.lastAccessedAt) {
        s.lastAccessedAt = now;
        await this.d.sessions.touchSession(s.id, now);
      }
      m.sessionCheck(dialect, 'valid');
      return s;
    } catch (e) {
      m.sessionCheck(dialect, 'error');
      throw e;
    }
  }

  /**
   * The check without waiting, for the fast path: the live session of `token` when
   * the store holds it in this process's memory, or undefined when the store must be
   * asked (then `authenticate`, which also answers every invalid, expired or unknown
   * token). The same rules as `authenticate`: the same expiry, the same touch. Not
   * counted in the metrics: the fast path counts what it answers.
   */
  authenticateNow(token: string | undefined, touch: boolean): SessionRecord | undefined {
    const store = this.d.sessions;
    // The length bounds the hashing; the shape is not looked at here: a string of another shape has no session in memory
    // (no stored token hashes to it), and authenticate, which it is handed to, refuses and counts it.
    if (token === undefined || token.length !== 43 || store.cachedSession === undefined) return undefined;
    const s = store.cachedSession(tokenKey(token));
    if (s === undefined) return undefined;
    const now = this.d.clock.now();
    if (isExpired(s, now)) return undefined; // authenticate ends it and counts it
    (this.d.checkMeter ?? sessionChecks).note();
    if (touch && now > s.lastAccessedAt) {
      s.lastAccessedAt = now;
      const pending = store.touchSession(s.id, now);
      // The stores that keep sessions in memory take touches in memory too; a store that writes through is awaited by authenticate.
      if (pending) pending.catch((e: unknown) => this.d.logger.error({ event: 'session.touch_failed', err: errText(e) }, 'a session touch was not recorded'));
    }
    return s;
  }

  /**
   * The forced-password-change gate, in one place for every dialect: a session
   * whose password must change may change it and log out, nothing else.
   * Throws CoreError password_change_required.
   */
  assertMay(session: Pick<SessionRecord, 'mustChangePassword'>, action: SessionAction): void {
    if (session.mustChangePassword && action === 'use') {
      throw new CoreError('password_change_required');
    }
  }

  /**
   * Whether a live session may be used through a dialect: it must hold one of the
   * dialect's roles (a session opened through another dialect may belong to a user
   * this dialect's login would refuse), then pass the forced-password-change gate.
   * Throws CoreError forbidden or password_change_required.
   */
  authorize(session: Pick<SessionRecord, 'roles' | 'mustChangePassword'>, requiredRoles: RoleRequirement, action: SessionAction): void {
    if (!hasRequiredRole(session.roles, requiredRoles)) throw new CoreError('forbidden');
    this.assertMay(session, action);
  }

  /**
   * After a required second factor was enrolled: the session's restriction is lifted,
   * unless the password itself must still change (flagged on the account, or expired).
   * Returns the session as it is now.
   */
  async completeEnrolment(session: SessionRecord): Promise<SessionRecord> {
    if (!session.mustChangePassword || !this.d.secondFactors) return session;
    if (!(await this.d.secondFactors.status(session.username)).enrolled) return session;
    const account = session.authSource === 'local' ? await this.d.accounts.getAccount(session.username) : null;
    const p = { username: session.username, source: session.authSource } as Principal;
    const stillMust = (account?.mustChangePassword ?? false) || (await this.passwordExpired(p, await this.d.settings.get(), this.d.clock.now()));
    if (stillMust) return session;
    // Sessions are immutable but for lastAccessedAt: replace it (same id, token hash and csrf) with the unrestricted one.
    const next = { ...session, mustChangePassword: false };
    await this.d.sessions.deleteSession(session.id);
    await this.d.sessions.createSession(next);
    return next;
  }

  async getSession(id: string): Promise<SessionRecord | null> {
    const s = await this.d.sessions.getSession(id);
    return s && !isExpired(s, this.d.clock.now()) ? s : null;
  }

  /** How many sessions are held (those expired since the last sweep included): without reading them. */
  countSessions(): Promise<number> {
    return this.d.sessions.countSessions();
  }

  /** Live sessions, all or one user's, oldest first. */
  async listSessions(filter?: { username?: string }): Promise<SessionRecord[]> {
    const now = this.d.clock.now();
    const f = filter?.username !== undefined ? { username: this.identityNamed(filter.username) } : undefined;
    return (await this.d.sessions.listSessions(f)).filter((s) => !isExpired(s, now));
  }

  /** Ends a session by id. Returns false when there was no live session of that id. */
  async revokeSession(id: string, ctx: RequestContext, by: string, event: 'session.revoke' | 'session.logout' = 'session.revoke'): Promise<boolean> {
    const s = await this.getSession(id);
    if (!s) return false;
    const deleted = await this.d.sessions.deleteSession(id);
    if (deleted) {
      this.d.logger.info({ event, reqId: ctx.requestId, session: id, user: s.username, by, client: ctx.clientAddress, dialect: ctx.dialect }, 'session ended');
      await this.d.audit.record(event === 'session.logout' ? 'session.logout' : 'session.revoke', ctx, s.username, { session: id, by });
    }
    return deleted;
  }

  logout(session: SessionRecord, ctx: RequestContext): Promise<boolean> {
    return this.revokeSession(session.id, ctx, session.username, 'session.logout');
  }

  /** "Log out everywhere". */
  async revokeUserSessions(username: string, ctx: RequestContext, by: string): Promise<number> {
    const identity = this.identityNamed(username);
    const n = await this.d.sessions.deleteSessionsOfUser(identity);
    this.d.logger.info({ event: 'session.revoke_user', reqId: ctx.requestId, user: identity, count: n, by, dialect: ctx.dialect }, 'sessions of user ended');
    await this.d.audit.record('session.revoke', ctx, identity, { count: n, by, all: true });
    return n;
  }

  /** The canonical identity an administrator names: `ldap:alice`, `pam:bob`, `local:carol` or `carol` (identity-key.ts). */
  identityNamed(name: string): string {
    const sources = [...this.d.identities.keys()].flatMap((k) => k.split(','));
    return parseIdentity(normalizeUsername(name), sources).identity;
  }

  /** Deletes expired sessions; returns how many. Runs off the request path. */
  async sweep(): Promise<number> {
    const gone = await this.d.sessions.deleteExpiredSessions(this.d.clock.now());
    for (const s of gone) {
      this.d.logger.info({ event: 'session.expire', session: s.id, user: s.username }, 'session expired');
      await this.d.audit.record('session.expire', undefined, s.username, { session: s.id, dialect: s.dialect });
    }
    return gone.length;
  }

  /**
   * Ends a live session now the way expiry ends it (deleted, audited as
   * `session.expire`), for client-testing mode: every dialect then answers its
   * token as it answers an expired one. Returns whether it was still there.
   */
  async expireNow(s: SessionRecord, detail: { cause: string; kind: string }): Promise<boolean> {
    const deleted = await this.d.sessions.deleteSession(s.id);
    if (deleted) {
      this.d.logger.info({ event: 'session.expire', session: s.id, user: s.username, ...detail }, 'session expired');
      await this.d.audit.record('session.expire', undefined, s.username, { session: s.id, dialect: s.dialect, ...detail });
    }
    return deleted;
  }

  private endExpired(s: SessionRecord): void {
    this.d.sessions.deleteSession(s.id).then(
      (deleted) => {
        if (!deleted) return;
        this.d.logger.info({ event: 'session.expire', session: s.id, user: s.username }, 'session expired');
        void this.d.audit.record('session.expire', undefined, s.username, { session: s.id, dialect: s.dialect });
      },
      (e: unknown) => this.d.logger.warn({ event: 'session.expire_failed', session: s.id, err: errText(e) }, 'could not delete expired session'),
    );
  }
}

/** Whether a provider (or a chain) verifies passwords with this process's hashing threads. */
function hashesHere(provider: IdentityProvider): boolean {
  return provider.name.split(',').includes('local');
}

/** How each refusal is counted in the metrics. */
const COUNTED_AS: Record<FailureReason, LoginOutcome> = {
  invalid_credentials: 'invalid',
  disabled: 'invalid',
  locked: 'locked',
  account_locked: 'locked',
  source_throttled: 'throttled',
  forbidden: 'forbidden',
  invalid_second_factor: 'invalid',
  second_factor_required: 'forbidden',
};

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
