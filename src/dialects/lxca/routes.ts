import { parse as parseCookies, serialize as serializeCookie, type SerializeOptions } from 'cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { SessionRecord } from '../../ports/store.js';
import { sameString } from '../../core/tokens.js';
import type { SessionAction } from '../../core/sessions.js';
import { idParams, passwordChangeBody, settingsBody } from '../../http/schemas.js';
import { header, isoSeconds, isUserActivity, requestContext, sendProblem, type Problem } from '../../http/common.js';
import type { Dialect, DialectDeps } from '../types.js';
import { SUCCESS_BODY, SUCCESS_MESSAGE, lxcaRenderer } from './envelope.js';
import { lxcaDocs } from './openapi.js';

const CSRF_COOKIE = 'csrf';

const loginBody = {
  type: 'object',
  required: ['UserId', 'password'],
  additionalProperties: false,
  properties: {
    UserId: { type: 'string' },
    password: { type: 'string' },
  },
} as const;

/** Lenovo XClarity Administrator: `/sessions` (seed 004) with cookie sessions and csrf tokens. */
export function lxcaDialect(deps: DialectDeps): Dialect {
  const { sessions, config, clock } = deps;
  const cfg = config.lxca;
  const fail = (reply: FastifyReply, problem: Problem) => sendProblem(reply, lxcaRenderer, problem);
  const docs = lxcaDocs(cfg.sessionCookie, cfg.failedLoginStatus);
  const secure = true; // Behind a TLS-terminating proxy the client still speaks HTTPS.
  const sessionCookieOptions: SerializeOptions = { path: '/', httpOnly: true, secure, sameSite: 'strict' };
  // Scripts copy the csrf cookie into X-Csrf-Token, so it is readable (not HttpOnly) by design.
  const csrfCookieOptions: SerializeOptions = { path: '/', secure, sameSite: 'strict' };

  function cookies(req: FastifyRequest): Record<string, string | undefined> {
    const raw = header(req, 'cookie');
    return raw ? parseCookies(raw) : {};
  }

  /** The live session of the request's session cookie, or a 401 already sent. */
  async function caller(req: FastifyRequest, reply: FastifyReply, opts: { stateChanging: boolean; action?: SessionAction }): Promise<SessionRecord | undefined> {
    const jar = cookies(req);
    const session = await sessions.authenticate(jar[cfg.sessionCookie], isUserActivity(req), 'lxca');
    if (!session) return void fail(reply, { code: 'invalid_session' });
    sessions.authorize(session, cfg.allowedRoles, opts.action ?? 'use');
    if (opts.stateChanging) {
      const sent = header(req, 'x-csrf-token');
      if (sent === undefined || !sameString(sent, session.csrf)) return void fail(reply, { code: 'csrf_mismatch' });
    } else if (jar[CSRF_COOKIE] !== session.csrf) {
      // A session made through another dialect has no csrf cookie yet: hand it over.
      reply.header('set-cookie', serializeCookie(CSRF_COOKIE, session.csrf, csrfCookieOptions));
    }
    return session;
  }

  const idleFor = (s: SessionRecord, now: number) =>
    String(Math.max(0, Math.floor(now / 1000) - Math.floor(s.lastAccessedAt / 1000)));

  /** The seed's session object: every value a string, keys in the seed's order. */
  function sessionView(s: SessionRecord, now: number) {
    return {
      Address: s.clientAddress,
      authenticationServer: s.authServer,
      created: isoSeconds(s.createdAt),
      csrf: s.csrf,
      id: s.id,
      idleFor: idleFor(s, now),
      inactivityTimeout: String(Math.floor(s.idleTimeoutMs / 1000)),
      lastAccessed: isoSeconds(s.lastAccessedAt),
      UserId: s.username,
    };
  }

  /** An entry of GET /sessions: no csrf (it is a credential), plus isOwnSession. */
  function listEntry(s: SessionRecord, own: boolean, now: number) {
    return {
      Address: s.clientAddress,
      authenticationServer: s.authServer,
      created: isoSeconds(s.createdAt),
      id: s.id,
      idleFor: idleFor(s, now),
      isOwnSession: own,
      lastAccessed: isoSeconds(s.lastAccessedAt),
      UserId: s.username,
    };
  }

  return {
    ...lxcaRenderer,
    openapi: docs.info,
    register(app: FastifyInstance) {
      const route = { config: { dialect: 'lxca' } };

      app.post<{ Body: { UserId: string; password: string } }>('/sessions', { ...route, schema: { body: { ...loginBody, examples: docs.bodyExamples.login }, ...docs.login } }, async (req, reply) => {
        const result = await sessions.login(
          { provider: cfg.provider, username: req.body.UserId, password: req.body.password, requiredRoles: cfg.allowedRoles },
          requestContext(req, 'lxca'),
        );
        // The login's own refusal: same body and message id whichever status is configured (see lxca.failedLoginStatus).
        if (result.kind === 'invalid_credentials') return fail(reply, { code: 'invalid_credentials', status: cfg.failedLoginStatus });
        if (result.kind === 'forbidden') return fail(reply, { code: 'forbidden' });
        if (result.kind === 'too_many_sessions') {
          return fail(reply, { code: 'too_many_sessions', detail: `The limit (MaxConcurrentSessions) is ${result.limit}.` });
        }
        const s = result.session;
        reply.header('set-cookie', [
          serializeCookie(cfg.sessionCookie, result.token, sessionCookieOptions),
          serializeCookie(CSRF_COOKIE, s.csrf, csrfCookieOptions),
        ]);
        return reply.type('application/json').send({
          response: { pwChangeRequired: s.mustChangePassword, session: sessionView(s, clock.now()) },
          result: 'success',
          messages: [SUCCESS_MESSAGE],
        });
      });

      app.get('/sessions', { ...route, schema: docs.list }, async (req, reply) => {
        const me = await caller(req, reply, { stateChanging: false });
        if (!me) return reply;
        const all = await sessions.listSessions(deps.isAdministrator(me.roles) ? undefined : { username: me.username });
        const now = clock.now();
        return reply.type('application/json').send({
          response: all.map((s) => listEntry(s, s.id === me.id, now)),
          result: 'success',
          messages: [SUCCESS_MESSAGE],
        });
      });

      app.delete('/sessions', { ...route, schema: docs.logout }, async (req, reply) => {
        const me = await caller(req, reply, { stateChanging: true, action: 'logout' });
        if (!me) return reply;
        await sessions.logout(me, requestContext(req, 'lxca'));
        reply.header('set-cookie', [
          serializeCookie(cfg.sessionCookie, '', { ...sessionCookieOptions, maxAge: 0 }),
          serializeCookie(CSRF_COOKIE, '', { ...csrfCookieOptions, maxAge: 0 }),
        ]);
        return reply.type('application/json').send(SUCCESS_BODY);
      });

      app.delete<{ Params: { id: string } }>('/sessions/:id', { ...route, schema: { params: idParams, ...docs.revoke } }, async (req, reply) => {
        const me = await caller(req, reply, { stateChanging: true });
        if (!me) return reply;
        const target = await sessions.getSession(req.params.id);
        if (!target) return fail(reply, { code: 'not_found', detail: `Session ${req.params.id} does not exist.` });
        if (target.username !== me.username && !deps.isAdministrator(me.roles)) return fail(reply, { code: 'forbidden' });
        await sessions.revokeSession(target.id, requestContext(req, 'lxca'), me.username);
        if (target.id === me.id) {
          reply.header('set-cookie', serializeCookie(cfg.sessionCookie, '', { ...sessionCookieOptions, maxAge: 0 }));
        }
        return reply.type('application/json').send(SUCCESS_BODY);
      });

      // The caller changes their own password: {"currentPassword", "newPassword"}. Allowed to a session whose password must change.
      app.put<{ Body: { currentPassword: string; newPassword: string } }>(
        '/userAccounts/passwordChange',
        { ...route, schema: { body: { ...passwordChangeBody, examples: docs.bodyExamples.password }, ...docs.passwordChange } },
        async (req, reply) => {
          const me = await caller(req, reply, { stateChanging: true, action: 'change_password' });
          if (!me) return reply;
          const ok = await deps.accounts.changeOwnPassword(me.username, req.body.currentPassword, req.body.newPassword, me.id, requestContext(req, 'lxca'));
          if (!ok) return fail(reply, { code: 'invalid_credentials' });
          return reply.type('application/json').send(SUCCESS_BODY);
        },
      );

      app.get('/userAccountSettings', { ...route, schema: docs.getSettings }, async (req, reply) => {
        const me = await caller(req, reply, { stateChanging: false });
        if (!me) return reply;
        if (!deps.isAdministrator(me.roles)) return fail(reply, { code: 'forbidden' });
        return reply.type('application/json').send({ response: await deps.settings.get(), result: 'success', messages: [SUCCESS_MESSAGE] });
      });

      app.put<{ Body: Record<string, number> }>('/userAccountSettings', { ...route, schema: { body: { ...settingsBody, examples: docs.bodyExamples.settings }, ...docs.putSettings } }, async (req, reply) => {
        const me = await caller(req, reply, { stateChanging: true });
        if (!me) return reply;
        if (!deps.isAdministrator(me.roles)) return fail(reply, { code: 'forbidden' });
        const { settings, changed } = await deps.settings.set(req.body);
        await deps.audit.record('settings.change', requestContext(req, 'lxca'), me.username, { changed: JSON.stringify(changed) });
        return reply.type('application/json').send({ response: settings, result: 'success', messages: [SUCCESS_MESSAGE] });
      });
    },
  };
}
