import { CoreError } from '../../core/errors.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import type { SessionRecord } from '../../ports/store.js';
import { basicCredentials, fastSessionCheck, header, isUserActivity, requestContext, sendProblem, type Problem } from '../../http/common.js';
import type { Dialect, DialectDeps } from '../types.js';
import { vcenterRenderer } from './envelope.js';
import { configuredDomains } from '../../config/identity.js';
import { domainDisplay, mapUsername } from './names.js';
import { vcenterDocs } from './openapi.js';

/** The header vCenter clients send the session id in (govmomi's `internal.SessionCookieName`). */
export const SESSION_HEADER = 'vmware-api-session-id';
const API_PATH = '/api/session';
const REST_PATH = '/rest/com/vmware/cis/session';

/**
 * Session create takes no input: no body (what govmomi and curl send), an empty one, or `{}`.
 * Anything else is a client's mistake, answered 400 INVALID_ARGUMENT rather than ignored.
 */
function assertNoInput(body: unknown): void {
  if (body === undefined) return;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new CoreError('invalid_input', 'body must be a JSON object or absent (creating a session takes no input)');
  }
  const [first] = Object.keys(body);
  if (first !== undefined) throw new CoreError('invalid_input', `unknown field "${first.slice(0, 64)}" (creating a session takes no input)`);
}

/** `?~action=` of the older API: absent (create, delete) or `get`. */
const restQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { '~action': { type: 'string', maxLength: 64 } },
} as const;

/**
 * VMware vCenter's vSphere Automation API session, on the one session store:
 * `POST|GET|DELETE /api/session` and the older `/rest/com/vmware/cis/session`
 * (`POST`, `POST ?~action=get`, `GET`, `DELETE`). The session id is the bearer
 * token every dialect accepts; it travels in `vmware-api-session-id` only (no
 * cookie is ever set: cookie sessions are deprecated by VMware for their CSRF risk).
 */
export function vcenterDialect(deps: DialectDeps): Dialect {
  const { sessions, config } = deps;
  const cfg = config.vcenter;
  const renderer = vcenterRenderer;
  const fail = (reply: FastifyReply, problem: Problem) => sendProblem(reply, renderer, problem);
  // Shown names: identity.domains (the one list) qualify `provider`'s users, a routed domain its source's.
  const display = domainDisplay({ ...Object.fromEntries(configuredDomains(config.identity).map((d) => [d, cfg.provider])), ...cfg.domains });
  const docs = vcenterDocs(REST_PATH);

  /** `Session.Info`: the same keys and types on both APIs (the older one wraps it in `value`). */
  function info(s: SessionRecord) {
    return {
      user: display(s.username, s.authSource),
      created_time: new Date(s.createdAt).toISOString(),
      last_accessed_time: new Date(s.lastAccessedAt).toISOString(),
    };
  }

  /** Creates a session from HTTP Basic credentials; returns the token, or undefined with the failure sent. */
  async function create(req: FastifyRequest, reply: FastifyReply): Promise<string | undefined> {
    const basic = basicCredentials(req);
    if (!basic) return void fail(reply, { code: 'invalid_credentials' });
    const who = mapUsername(basic.username, cfg.provider, cfg.domains);
    const result = await sessions.login(
      { provider: who.provider, username: who.username, password: basic.password, requiredRoles: cfg.allowedRoles },
      requestContext(req, 'vcenter'),
    );
    if (result.kind === 'invalid_credentials') return void fail(reply, { code: 'invalid_credentials' });
    if (result.kind === 'forbidden') return void fail(reply, { code: 'forbidden' });
    if (result.kind === 'too_many_sessions') {
      return void fail(reply, {
        code: 'too_many_sessions',
        detail: `The maximum number of concurrent sessions for this user (${result.limit}) has been reached; log out another session first.`,
      });
    }
    return result.token;
  }

  /** The live session of `vmware-api-session-id` that may take `action`, or undefined with a 401/403 sent. */
  async function caller(req: FastifyRequest, reply: FastifyReply, action: 'use' | 'logout'): Promise<SessionRecord | undefined> {
    const session = await sessions.authenticate(header(req, SESSION_HEADER), action === 'use' && isUserActivity(req), 'vcenter');
    if (!session) return void fail(reply, { code: 'invalid_session' });
    sessions.authorize(session, cfg.allowedRoles, action);
    return session;
  }

  /** The check on the fast path: the 200 body of `GET /api/session`, or undefined to let the route answer. */
  function fastCheck(req: IncomingMessage): string | undefined | Promise<string | undefined> {
    return fastSessionCheck(sessions, req, SESSION_HEADER, fastBody);
  }

  /** Each session's last body, made again when its last access moved (it shows it, to the millisecond). */
  const bodies = new WeakMap<SessionRecord, { at: number; body: string }>();
  function fastBody(session: SessionRecord): string | undefined {
    try {
      sessions.authorize(session, cfg.allowedRoles, 'use');
    } catch {
      return undefined; // the route renders the refusal
    }
    let made = bodies.get(session);
    if (made?.at !== session.lastAccessedAt) bodies.set(session, (made = { at: session.lastAccessedAt, body: JSON.stringify(info(session)) }));
    return made.body;
  }

  return {
    ...renderer,
    openapi: docs.info,
    fastRoutes: [{ method: 'GET', path: API_PATH, answer: (req) => fastCheck(req) }],
    register(app: FastifyInstance) {
      const route = { config: { dialect: 'vcenter' } };

      // The Automation API (vSphere 7.0 U2+): the token as a JSON string, 201.
      app.post(API_PATH, { ...route, schema: docs.apiCreate }, async (req, reply) => {
        assertNoInput(req.body);
        const token = await create(req, reply);
        if (token === undefined) return reply;
        return reply.code(201).type('application/json').send(JSON.stringify(token));
      });

      app.get(API_PATH, { ...route, schema: docs.apiGet }, async (req, reply) => {
        const s = await caller(req, reply, 'use');
        if (!s) return reply;
        return reply.type('application/json').send(info(s));
      });

      app.delete(API_PATH, { ...route, schema: docs.apiDelete }, async (req, reply) => {
        const s = await caller(req, reply, 'logout');
        if (!s) return reply;
        await sessions.logout(s, requestContext(req, 'vcenter'));
        return reply.code(204).send();
      });

      // The older REST API (vSphere 6.5 – 7.0; govmomi's vapi/rest): values wrapped in {"value": ...}.
      app.post<{ Querystring: { '~action'?: string } }>(REST_PATH, { ...route, schema: { querystring: restQuery, ...docs.restPost } }, async (req, reply) => {
        assertNoInput(req.body); // neither create nor get takes input
        const action = req.query['~action'];
        if (action === 'get') {
          const s = await caller(req, reply, 'use');
          if (!s) return reply;
          return reply.type('application/json').send({ value: info(s) });
        }
        if (action !== undefined) {
          return fail(reply, { code: 'no_route', detail: `The session service has no operation "${action.slice(0, 64)}" (only ~action=get).` });
        }
        const token = await create(req, reply);
        if (token === undefined) return reply;
        return reply.code(200).type('application/json').send({ value: token });
      });

      app.get(REST_PATH, { ...route, schema: docs.restGet }, async (req, reply) => {
        const s = await caller(req, reply, 'use');
        if (!s) return reply;
        return reply.type('application/json').send({ value: info(s) });
      });

      app.delete(REST_PATH, { ...route, schema: docs.restDelete }, async (req, reply) => {
        const s = await caller(req, reply, 'logout');
        if (!s) return reply;
        await sessions.logout(s, requestContext(req, 'vcenter'));
        return reply.code(200).send();
      });
    },
  };
}
