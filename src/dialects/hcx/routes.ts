import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CoreError } from '../../core/errors.js';
import type { LoginCommand, SessionAction } from '../../core/sessions.js';
import type { Principal } from '../../ports/identity.js';
import type { SessionRecord } from '../../ports/store.js';
import { basicCredentials, fastSessionCheck, header, isUserActivity, requestContext, sendProblem, type Problem } from '../../http/common.js';
import type { Dialect, DialectDeps } from '../types.js';
import { head, hcxRenderer } from './envelope.js';
import { hcxDocs } from './openapi.js';

const TOKEN_HEADER = 'x-hm-authorization';

const loginBody = {
  type: 'object',
  required: ['username', 'password'],
  additionalProperties: false,
  properties: {
    authType: { type: 'string' },
    username: { type: 'string' },
    password: { type: 'string' },
  },
} as const;

interface LoginBody {
  authType?: string;
  username: string;
  password: string;
}

/** VMware HCX Manager: `/api/admin/v1/sessions` (seed 000) and the older `/hybridity/api/sessions`. */
/** Placeholders of the check body's template: the head's time (first key, before any user data) and the request id. */
const TIME_KEY = '"time":';
const ID_KEY = '"transactionId":';
const ID_MARK = '@@request-id@@';

export function hcxDialect(deps: DialectDeps): Dialect {
  const { sessions, config, clock } = deps;
  const renderer = hcxRenderer(() => clock.now());
  const cfg = config.hcx;
  const fail = (reply: FastifyReply, problem: Problem) => sendProblem(reply, renderer, problem);
  const docs = hcxDocs(Object.keys(cfg.authTypes));
  const body = docs.loginBody(loginBody);

  function command(body: LoginBody): LoginCommand {
    const authType = body.authType ?? 'local';
    const provider = Object.hasOwn(cfg.authTypes, authType) ? cfg.authTypes[authType] : undefined;
    if (provider === undefined) throw new CoreError('unsupported_auth_type', `Unsupported auth type: ${authType}`);
    return { provider, username: body.username, password: body.password, requiredRoles: cfg.allowedRoles };
  }

  function userBody(p: Pick<Principal, 'username' | 'roles' | 'organizations' | 'enterprise'>, transactionId: string, now = clock.now()) {
    return {
      ...head(true, now),
      data: {
        user: {
          enterprise: p.enterprise,
          organization: p.organizations,
          currentOrganization: p.organizations[0] ?? 'DEFAULT',
          roles: p.roles,
          username: p.username,
          transactionId,
        },
        cloud: { name: cfg.cloud.name, type: cfg.cloud.type },
        organizations: p.organizations.map((name) => ({
          name,
          id: Object.hasOwn(cfg.organizationIds, name) ? cfg.organizationIds[name]! : `${name.toLowerCase()}-org-id`,
        })),
      },
    };
  }

  /**
   * The check's 200 body as text, from a template made once per session (a
   * session's user fields never change): only the time and the request id differ
   * from one check to the next. The same bytes as JSON.stringify(userBody(...)).
   */
  const templates = new WeakMap<object, [string, string, string]>();
  /**
   * The same templates by what they show: a session read again from the store is a
   * new object (with its own role and organization arrays), and a million such
   * sessions (B4b) would each make theirs at every check. The key is the fields the
   * body shows, as JSON (unambiguous whatever a username holds); bounded.
   */
  const byContent = new Map<string, [string, string, string]>();
  const contentKey = (s: SessionRecord) => JSON.stringify([s.username, s.enterprise, s.roles, s.organizations]);
  const templateOf = (s: SessionRecord): [string, string, string] | undefined => {
    const t = templates.get(s);
    if (t) return t;
    const shared = byContent.get(contentKey(s));
    if (shared) templates.set(s, shared);
    return shared;
  };
  const keepTemplate = (s: SessionRecord, t: [string, string, string]) => {
    templates.set(s, t);
    if (byContent.size >= 10_000) byContent.clear(); // bounded: a few users' templates are remade
    byContent.set(contentKey(s), t);
  };
  const UUID = /^[0-9a-f-]{36}$/;
  function fastUserBody(s: SessionRecord, requestId: string): string {
    let t = templateOf(s);
    if (!t) {
      const text = JSON.stringify(userBody(s, ID_MARK, 0));
      const time = text.indexOf(TIME_KEY + '0,') + TIME_KEY.length; // where the time's digits go
      const id = text.indexOf(ID_KEY + JSON.stringify(ID_MARK)) + ID_KEY.length; // where the quoted id goes
      if (time < TIME_KEY.length || id < ID_KEY.length || id < time) throw new Error('HCX check template: placeholders not found');
      t = [text.slice(0, time), text.slice(time + 1, id), text.slice(id + JSON.stringify(ID_MARK).length)];
      keepTemplate(s, t);
    }
    // A request id is a UUID (nothing to escape); anything else is quoted as JSON.
    return `${t[0]}${clock.now()}${t[1]}${UUID.test(requestId) ? `"${requestId}"` : JSON.stringify(requestId)}${t[2]}`;
  }

  /** Logs in; on success sets the token header and returns the session's principal. */
  async function login(req: FastifyRequest<{ Body: LoginBody }>, reply: FastifyReply) {
    let result;
    try {
      result = await sessions.login(command(req.body), requestContext(req, 'hcx'));
    } catch (e) {
      // The seed has one answer for anything that breaks during a login.
      if (e instanceof CoreError) throw e;
      throw new CoreError('identity_unavailable', 'unexpected error during login', { cause: e });
    }
    if (result.kind === 'invalid_credentials') return void fail(reply, { code: 'invalid_credentials' });
    if (result.kind === 'forbidden') return void fail(reply, { code: 'forbidden' });
    if (result.kind === 'too_many_sessions') {
      return void fail(reply, { code: 'too_many_sessions', detail: `Maximum number of concurrent sessions (${result.limit}) reached; log out another session first.` });
    }
    reply.header(TOKEN_HEADER, result.token);
    return result.session;
  }

  /**
   * Who is calling a protected route: the session of `x-hm-authorization`, or the
   * user of HTTP Basic credentials (checked each time; no session is made).
   */
  async function caller(req: FastifyRequest, reply: FastifyReply, action: SessionAction = 'use') {
    const token = header(req, TOKEN_HEADER);
    if (token !== undefined) {
      const session = await sessions.authenticate(token, isUserActivity(req), 'hcx');
      if (!session) return void fail(reply, { code: 'invalid_session' });
      sessions.authorize(session, cfg.allowedRoles, action);
      return { session, principal: session };
    }
    const basic = basicCredentials(req);
    if (basic) {
      const checked = await sessions.verifyCredentials(
        { provider: cfg.authTypes.local ?? 'local', username: basic.username, password: basic.password, requiredRoles: cfg.allowedRoles },
        requestContext(req, 'hcx'),
      );
      if (checked.kind === 'invalid_credentials') return void fail(reply, { code: 'invalid_credentials' });
      if (checked.kind === 'forbidden') return void fail(reply, { code: 'forbidden' });
      sessions.assertMay(checked.principal, action);
      return { session: undefined, principal: checked.principal };
    }
    return void fail(reply, { code: 'invalid_session', detail: `Missing ${TOKEN_HEADER} header.` });
  }

  /** The check's 200 for a live session, or undefined when the route must render a refusal. */
  function answerFor(session: SessionRecord, requestId: () => string): string | undefined {
    try {
      sessions.authorize(session, cfg.allowedRoles, 'use');
    } catch {
      return undefined; // the route renders the refusal
    }
    return fastUserBody(session, requestId());
  }

  return {
    ...renderer,
    openapi: docs.info,
    fastRoutes: [
      {
        // The session check every HCX client polls: the same 200 as the route below, without Fastify's request cycle.
        method: 'GET',
        path: '/api/admin/v1/sessions',
        answer: (req, requestId) => fastSessionCheck(sessions, req, TOKEN_HEADER, (s) => answerFor(s, requestId)),
      },
    ],
    register(app: FastifyInstance) {
      const route = { config: { dialect: 'hcx' } };

      app.post<{ Body: LoginBody }>('/api/admin/v1/sessions', { ...route, schema: { body, ...docs.login } }, async (req, reply) => {
        const s = await login(req, reply);
        if (!s) return reply;
        reply.header('auth_token_name', TOKEN_HEADER);
        return reply.type('application/json').send(userBody(s, req.id));
      });

      app.get('/api/admin/v1/sessions', { ...route, schema: docs.whoAmI }, async (req, reply) => {
        const who = await caller(req, reply);
        if (!who) return reply;
        return reply.type('application/json').send(userBody(who.principal, req.id));
      });

      app.delete('/api/admin/v1/sessions', { ...route, schema: docs.logout }, async (req, reply) => {
        const who = await caller(req, reply, 'logout');
        if (!who) return reply;
        if (!who.session) {
          return fail(reply, { code: 'invalid_input', detail: `Logout needs the ${TOKEN_HEADER} session token; HTTP Basic makes no session.` });
        }
        await sessions.logout(who.session, requestContext(req, 'hcx'));
        return reply.type('application/json').send(head(true, clock.now()));
      });

      // The older login: 200 with an empty body, the token in the header.
      app.post<{ Body: LoginBody }>('/hybridity/api/sessions', { ...route, schema: { body, ...docs.hybridityLogin } }, async (req, reply) => {
        const s = await login(req, reply);
        if (!s) return reply;
        return reply.code(200).send();
      });
    },
  };
}
