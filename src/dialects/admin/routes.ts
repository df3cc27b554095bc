import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CoreError, retryAfterFor } from '../../core/errors.js';
import type { SessionAction } from '../../core/sessions.js';
import { idParams, passwordChangeBody, settingsBody } from '../../http/schemas.js';
import type { SessionRecord } from '../../ports/store.js';
import { header, isoSeconds, isUserActivity, requestContext, sendProblem, type DialectRenderer, type Problem, type ProblemCode } from '../../http/common.js';
import type { Dialect, DialectDeps } from '../types.js';
import { adminDocs } from './openapi.js';

/** Where the administration API lives; no vendor path starts with it. */
export const ADMIN_PREFIX = '/portcullis/api/v1';

const STATUS: Record<ProblemCode, number> = {
  invalid_input: 400,
  unsupported_auth_type: 400,
  invalid_credentials: 401,
  invalid_session: 401,
  forbidden: 403,
  csrf_mismatch: 403,
  password_change_required: 403,
  too_many_sessions: 403,
  not_found: 404,
  conflict: 409,
  identity_unavailable: 500,
  internal: 500,
  busy: 503,
  unavailable: 503,
  no_route: 404,
  method_not_allowed: 405,
  uri_too_long: 414,
  payload_too_large: 413,
  unsupported_media_type: 415,
  header_too_large: 431,
  timeout: 408,
};

const MESSAGES: Partial<Record<ProblemCode, string>> = {
  invalid_credentials: 'The current password is not valid.',
  invalid_session: 'Send a live session token as Authorization: Bearer <token> (or x-hm-authorization).',
  forbidden: 'This operation needs an administrator role.',
  password_change_required: `The password must be changed first: PUT ${ADMIN_PREFIX}/password {"currentPassword","newPassword"}; only that and logout are allowed.`,
  internal: 'An internal error occurred.',
  busy: 'Too many logins are being checked at once; retry after the Retry-After seconds.',
  // Fixed: an adapter's message may name hosts or ports.
  unavailable: 'The session or account store is unreachable or too slow; retry after the Retry-After seconds.',
};

/** `{"error":{"code","message"}}`: the code is the core's, stable for scripts. */
export const adminRenderer: DialectRenderer = {
  name: 'admin',
  owns: (path) => path.startsWith('/portcullis/'),
  render(problem: Problem) {
    const status = problem.status ?? STATUS[problem.code];
    const message = MESSAGES[problem.code] && (problem.code !== 'invalid_session' || !problem.detail) ? MESSAGES[problem.code]! : problem.detail || problem.code;
    const retryAfter = retryAfterFor(problem.code);
    return { status, body: { error: { code: problem.code, message } }, ...(retryAfter !== undefined && { headers: { 'retry-after': String(retryAfter) } }) };
  },
};

const nameParams = { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1, maxLength: 256 } } } as const;
const resetPasswordBody = {
  type: 'object',
  required: ['password'],
  additionalProperties: false,
  properties: { password: { type: 'string' }, mustChange: { type: 'boolean' } },
} as const;
const auditQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    user: { type: 'string', maxLength: 256 },
    kind: { type: 'string', maxLength: 64 },
    since: { type: 'string', maxLength: 64 },
    limit: { type: 'string', pattern: '^[0-9]{1,5}$' },
  },
} as const;
const sessionsQuery = { type: 'object', additionalProperties: false, properties: { user: { type: 'string', maxLength: 256 } } } as const;

/** Parses an ISO 8601 time or milliseconds since the epoch. */
export function parseSince(v: string): number {
  const n = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(n)) throw new CoreError('invalid_input', `since must be an ISO 8601 time or milliseconds since the epoch, not "${v}"`);
  return n;
}

export function sessionJson(s: SessionRecord) {
  return {
    id: s.id,
    username: s.username,
    clientAddress: s.clientAddress,
    dialect: s.dialect,
    authSource: s.authSource,
    mustChangePassword: s.mustChangePassword,
    created: isoSeconds(s.createdAt),
    lastAccessed: isoSeconds(s.lastAccessedAt),
    expires: isoSeconds(s.expiresAt),
  };
}

/**
 * Portcullis's own administration API (docs/admin-api.md). Bearer tokens only —
 * no cookies — so it needs no CSRF token.
 */
export function adminDialect(deps: DialectDeps): Dialect {
  const { sessions, accounts, settings, audit } = deps;
  const fail = (reply: FastifyReply, problem: Problem) => sendProblem(reply, adminRenderer, problem);
  const docs = adminDocs(adminRenderer);

  function bearer(req: FastifyRequest): string | undefined {
    const auth = header(req, 'authorization');
    const m = auth ? /^bearer +(\S+) *$/i.exec(auth) : null;
    return m ? m[1] : header(req, 'x-hm-authorization');
  }

  async function caller(req: FastifyRequest, reply: FastifyReply, opts: { admin: boolean; action?: SessionAction }): Promise<SessionRecord | undefined> {
    const s = await sessions.authenticate(bearer(req), isUserActivity(req), 'admin');
    if (!s) return void fail(reply, { code: 'invalid_session' });
    sessions.assertMay(s, opts.action ?? 'use');
    if (opts.admin && !deps.isAdministrator(s.roles)) return void fail(reply, { code: 'forbidden' });
    return s;
  }

  return {
    ...adminRenderer,
    openapi: docs.info,
    register(app: FastifyInstance) {
      const route = { config: { dialect: 'admin' } };
      const P = ADMIN_PREFIX;
      const ctx = (req: FastifyRequest) => requestContext(req, 'admin');

      app.delete(`${P}/session`, { ...route, schema: docs.logout }, async (req, reply) => {
        const me = await caller(req, reply, { admin: false, action: 'logout' });
        if (!me) return reply;
        await sessions.logout(me, ctx(req));
        return { ok: true };
      });

      app.put<{ Body: { currentPassword: string; newPassword: string } }>(`${P}/password`, { ...route, schema: { body: { ...passwordChangeBody, examples: docs.bodyExamples.password }, ...docs.password } }, async (req, reply) => {
        const me = await caller(req, reply, { admin: false, action: 'change_password' });
        if (!me) return reply;
        if (!(await accounts.changeOwnPassword(me.username, req.body.currentPassword, req.body.newPassword, me.id, ctx(req)))) {
          return fail(reply, { code: 'invalid_credentials' });
        }
        return { ok: true };
      });

      app.get<{ Querystring: { user?: string } }>(`${P}/sessions`, { ...route, schema: { querystring: sessionsQuery, ...docs.sessions } }, async (req, reply) => {
        if (!(await caller(req, reply, { admin: true }))) return reply;
        const list = await sessions.listSessions(req.query.user !== undefined ? { username: req.query.user } : undefined);
        return { sessions: list.map(sessionJson) };
      });

      app.delete<{ Params: { id: string } }>(`${P}/sessions/:id`, { ...route, schema: { params: idParams, ...docs.revoke } }, async (req, reply) => {
        const me = await caller(req, reply, { admin: true });
        if (!me) return reply;
        if (!(await sessions.revokeSession(req.params.id, ctx(req), me.username))) {
          return fail(reply, { code: 'not_found', detail: `no live session with id ${req.params.id}` });
        }
        return { ok: true };
      });

      app.delete<{ Params: { name: string } }>(`${P}/users/:name/sessions`, { ...route, schema: { params: nameParams, ...docs.revokeUser } }, async (req, reply) => {
        const me = await caller(req, reply, { admin: true });
        if (!me) return reply;
        return { ended: await sessions.revokeUserSessions(req.params.name, ctx(req), me.username) };
      });

      app.post<{ Params: { name: string } }>(`${P}/users/:name/unlock`, { ...route, schema: { params: nameParams, ...docs.unlock } }, async (req, reply) => {
        const me = await caller(req, reply, { admin: true });
        if (!me) return reply;
        return { username: req.params.name, wasLocked: await accounts.unlock(req.params.name, ctx(req), me.username) };
      });

      app.put<{ Params: { name: string }; Body: { password: string; mustChange?: boolean } }>(
        `${P}/users/:name/password`,
        { ...route, schema: { params: nameParams, body: { ...resetPasswordBody, examples: docs.bodyExamples.reset }, ...docs.reset } },
        async (req, reply) => {
          const me = await caller(req, reply, { admin: true });
          if (!me) return reply;
          // An administrator's reset must be changed by its user at the next login unless said otherwise.
          await accounts.setPassword(req.params.name, req.body.password, { mustChange: req.body.mustChange ?? true }, ctx(req), me.username);
          return { ok: true };
        },
      );

      app.get(`${P}/settings`, { ...route, schema: docs.getSettings }, async (req, reply) => {
        if (!(await caller(req, reply, { admin: true }))) return reply;
        return { settings: await settings.get() };
      });

      app.put<{ Body: Record<string, number> }>(`${P}/settings`, { ...route, schema: { body: { ...settingsBody, examples: docs.bodyExamples.settings }, ...docs.putSettings } }, async (req, reply) => {
        const me = await caller(req, reply, { admin: true });
        if (!me) return reply;
        const r = await settings.set(req.body);
        await audit.record('settings.change', ctx(req), me.username, { changed: JSON.stringify(r.changed) });
        return { settings: r.settings };
      });

      app.get<{ Querystring: { user?: string; kind?: string; since?: string; limit?: string } }>(
        `${P}/audit`,
        { ...route, schema: { querystring: auditQuery, ...docs.audit } },
        async (req, reply) => {
          if (!(await caller(req, reply, { admin: true }))) return reply;
          const q = req.query;
          const events = await audit.query({
            ...(q.user !== undefined && { username: q.user.normalize('NFC') }),
            ...(q.kind !== undefined && { kind: q.kind }),
            ...(q.since !== undefined && { since: parseSince(q.since) }),
            ...(q.limit !== undefined && { limit: Number(q.limit) }),
          });
          return { events: events.map((e) => ({ ...e, time: new Date(e.at).toISOString() })) };
        },
      );
    },
  };
}
