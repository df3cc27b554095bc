import type { Clock } from '../ports/clock.js';
import { IdentitySourceError, type IdentityProvider, type Principal } from '../ports/identity.js';
import type { Random } from '../ports/random.js';
import type { SessionRecord, SessionStore } from '../ports/store.js';
import { CoreError } from './errors.js';
import { passwordProblem, usernameProblem, normalizeUsername } from './input.js';
import type { Logger } from './logger.js';
import { hashToken, isTokenShaped, newCsrfToken, newSessionId, newToken, sameSecret } from './tokens.js';

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
}

export type CredentialResult =
  | { kind: 'ok'; principal: Principal }
  | { kind: 'invalid_credentials' }
  | { kind: 'forbidden'; principal: Principal };

export type LoginResult =
  | { kind: 'ok'; session: SessionRecord; token: string }
  | { kind: 'invalid_credentials' }
  | { kind: 'forbidden'; principal: Principal };

/**
 * A session is alive while `now < expiresAt` and, when it has an idle timeout,
 * `now < lastAccessedAt + idleTimeoutMs`. At the boundary itself it has expired.
 */
export function isExpired(s: SessionRecord, now: number): boolean {
  return now >= s.expiresAt || (s.idleTimeoutMs > 0 && now >= s.lastAccessedAt + s.idleTimeoutMs);
}

export function hasRequiredRole(roles: readonly string[], required: RoleRequirement): boolean {
  if (required === 'any') return roles.length > 0;
  return roles.some((r) => required.includes(r));
}

export interface SessionServiceDeps {
  sessions: SessionStore;
  identities: ReadonlyMap<string, IdentityProvider>;
  clock: Clock;
  random: Random;
  logger: Logger;
  policy: SessionPolicy;
}

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

  /** Checks credentials against a provider and the role requirement, without making a session. */
  async verifyCredentials(cmd: LoginCommand, ctx: RequestContext): Promise<CredentialResult> {
    const provider = this.d.identities.get(cmd.provider);
    if (!provider) throw new CoreError('unsupported_auth_type', `no identity provider named "${cmd.provider}"`);
    const uProblem = usernameProblem(cmd.username);
    if (uProblem) throw new CoreError('invalid_input', `username ${uProblem}`);
    const pProblem = passwordProblem(cmd.password);
    if (pProblem) throw new CoreError('invalid_input', `password ${pProblem}`);
    const username = normalizeUsername(cmd.username);

    let outcome;
    try {
      outcome = await provider.authenticate(username, cmd.password);
    } catch (e) {
      const reason = e instanceof IdentitySourceError ? e.message : 'unexpected error in identity provider';
      this.d.logger.error(
        { event: 'login.source_error', reqId: ctx.requestId, user: username, provider: provider.name, dialect: ctx.dialect, err: errText(e) },
        reason,
      );
      throw new CoreError('identity_unavailable', reason, { cause: e });
    }
    if (!outcome.ok) {
      this.d.logger.info(
        { event: 'login.failure', reqId: ctx.requestId, user: username, provider: provider.name, reason: outcome.reason, client: ctx.clientAddress, dialect: ctx.dialect },
        'login refused',
      );
      return { kind: 'invalid_credentials' };
    }
    if (!hasRequiredRole(outcome.principal.roles, cmd.requiredRoles)) {
      this.d.logger.info(
        { event: 'login.forbidden', reqId: ctx.requestId, user: username, provider: provider.name, client: ctx.clientAddress, dialect: ctx.dialect },
        'authenticated without a permitted role',
      );
      return { kind: 'forbidden', principal: outcome.principal };
    }
    return { kind: 'ok', principal: outcome.principal };
  }

  /** Checks credentials and, when they pass, commits a new session with a fresh token. */
  async login(cmd: LoginCommand, ctx: RequestContext): Promise<LoginResult> {
    const checked = await this.verifyCredentials(cmd, ctx);
    if (checked.kind !== 'ok') return checked;
    const p = checked.principal;
    const now = this.d.clock.now();
    const token = newToken(this.d.random);
    const session: SessionRecord = {
      id: newSessionId(this.d.random),
      tokenHash: hashToken(token),
      csrf: newCsrfToken(this.d.random),
      username: p.username,
      roles: [...p.roles],
      organizations: [...p.organizations],
      enterprise: p.enterprise,
      mustChangePassword: p.mustChangePassword,
      createdAt: now,
      lastAccessedAt: now,
      idleTimeoutMs: this.d.policy.idleTimeoutMs,
      expiresAt: now + this.d.policy.absoluteLifetimeMs,
      clientAddress: ctx.clientAddress,
      authSource: p.source,
      authServer: p.authServer,
      dialect: ctx.dialect,
    };
    await this.d.sessions.createSession(session);
    this.d.logger.info(
      { event: 'login.success', reqId: ctx.requestId, user: p.username, session: session.id, provider: p.source, client: ctx.clientAddress, dialect: ctx.dialect },
      'session created',
    );
    return { kind: 'ok', session, token };
  }

  /**
   * The hot path: resolves a bearer token to its live session, or null. With
   * `touch`, the activity renews the idle timer (not for automated polling such
   * as XClarity's `X-NOT-USER-INPUT: checkSession`).
   */
  async authenticate(token: string | undefined, touch: boolean): Promise<SessionRecord | null> {
    if (token === undefined || !isTokenShaped(token)) return null;
    const hash = hashToken(token);
    const s = await this.d.sessions.findSessionByTokenHash(hash);
    if (!s || !sameSecret(s.tokenHash, hash)) return null;
    const now = this.d.clock.now();
    if (isExpired(s, now)) {
      this.endExpired(s);
      return null;
    }
    if (touch && now > s.lastAccessedAt) {
      s.lastAccessedAt = now;
      await this.d.sessions.touchSession(s.id, now);
    }
    return s;
  }

  async getSession(id: string): Promise<SessionRecord | null> {
    const s = await this.d.sessions.getSession(id);
    return s && !isExpired(s, this.d.clock.now()) ? s : null;
  }

  /** Live sessions, all or one user's, oldest first. */
  async listSessions(filter?: { username?: string }): Promise<SessionRecord[]> {
    const now = this.d.clock.now();
    const f = filter?.username !== undefined ? { username: normalizeUsername(filter.username) } : undefined;
    return (await this.d.sessions.listSessions(f)).filter((s) => !isExpired(s, now));
  }

  /** Ends a session by id. Returns false when there was no live session of that id. */
  async revokeSession(id: string, ctx: RequestContext, by: string, event = 'session.revoke'): Promise<boolean> {
    const s = await this.getSession(id);
    if (!s) return false;
    const deleted = await this.d.sessions.deleteSession(id);
    if (deleted) {
      this.d.logger.info({ event, reqId: ctx.requestId, session: id, user: s.username, by, client: ctx.clientAddress, dialect: ctx.dialect }, 'session ended');
    }
    return deleted;
  }

  logout(session: SessionRecord, ctx: RequestContext): Promise<boolean> {
    return this.revokeSession(session.id, ctx, session.username, 'session.logout');
  }

  /** "Log out everywhere". */
  async revokeUserSessions(username: string, ctx: RequestContext, by: string): Promise<number> {
    const n = await this.d.sessions.deleteSessionsOfUser(normalizeUsername(username));
    this.d.logger.info({ event: 'session.revoke_user', reqId: ctx.requestId, user: username, count: n, by, dialect: ctx.dialect }, 'sessions of user ended');
    return n;
  }

  /** Deletes expired sessions; returns how many. Runs off the request path. */
  async sweep(): Promise<number> {
    const gone = await this.d.sessions.deleteExpiredSessions(this.d.clock.now());
    for (const s of gone) this.d.logger.info({ event: 'session.expire', session: s.id, user: s.username }, 'session expired');
    return gone.length;
  }

  private endExpired(s: SessionRecord): void {
    this.d.sessions.deleteSession(s.id).then(
      (deleted) => {
        if (deleted) this.d.logger.info({ event: 'session.expire', session: s.id, user: s.username }, 'session expired');
      },
      (e: unknown) => this.d.logger.warn({ event: 'session.expire_failed', session: s.id, err: errText(e) }, 'could not delete expired session'),
    );
  }
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
