import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CoreError } from '../../core/errors.js';
import { requestContext, sendProblem, type ProblemCode } from '../../http/common.js';
import type { Dialect, DialectDeps } from '../types.js';
import { ASSET_PREFIX, loadAssets, type Assets } from './assets.js';
import { CONSOLE_PATH, LOGIN_PATH, MESSAGES, consoleRenderer } from './envelope.js';
import { Notice, page } from './layout.js';
import { PASSWORD_PATH, rdQuery, registerLogin } from './login.js';
import { registerPasswordChange, viewerOf } from './password.js';
import { clearedSessionCookies, consoleScope, csrfMatches, currentSession, formField, redirect, sendHtml, type ConsoleContext, consoleContext } from './shared.js';
import { registerPages, type PageHelpers } from './pages.js';
import { TOTP_PATH, mustEnrol } from './totp.js';
import { registerAdmin } from './admin.js';
import { SessionSampler, buildMetrics } from './metrics.js';

const TITLES: Partial<Record<number, string>> = { 400: 'Not valid', 401: 'Not signed in', 403: 'Not allowed', 404: 'Not found', 413: 'Too large', 415: 'Not a form', 429: 'Too many sessions', 503: 'Try again' };

/**
 * The browser side of Portcullis, as one dialect: the login page of the gateway
 * (`/portcullis/login`) and the operator console (`/console/`). Pages are rendered
 * on the server from the same core calls the CLI makes; the session is the
 * XClarity session (same cookie, same csrf token), so it is listed and ended like
 * any other.
 */
export function consoleDialect(deps: DialectDeps, opts: { assets?: Assets } = {}): Dialect {
  const c: ConsoleContext = consoleContext(deps, opts.assets ?? loadAssets());

  async function errorPage(status: number, code: ProblemCode, detail: string | undefined, req: FastifyRequest): Promise<string> {
    const s = await currentSession(c, req).catch(() => null);
    return page(
      { title: TITLES[status] ?? 'Error', assets: c.assets, viewer: s && !s.mustChangePassword ? viewerOf(c, s) : undefined, narrow: !s },
      <>
        <h1>{TITLES[status] ?? 'Something went wrong'}</h1>
        <Notice kind="error">
          {MESSAGES[code] ?? MESSAGES.internal}
          {detail ? ` ${detail}` : ''}
        </Notice>
        <p>
          <a href={s ? CONSOLE_PATH : LOGIN_PATH}>{s ? 'Back to the console' : 'Sign in'}</a>
        </p>
      </>,
    );
  }

  const sampler = new SessionSampler(deps);

  return {
    ...consoleRenderer,
    register(app: FastifyInstance) {
      const route = { config: { dialect: 'console' } };
      app.addHook('onReady', async () => sampler.start());
      app.addHook('onClose', async () => sampler.stop());

      // The console's JSON: what its script fetches. Errors in the console's JSON envelope, 401 without a session.
      app.register(
        async (scope) => {
          const json = (reply: FastifyReply, body: object) => reply.type('application/json; charset=utf-8').send(body);
          async function caller(req: FastifyRequest) {
            const s = await currentSession(c, req);
            if (!s) throw new CoreError('invalid_session');
            deps.sessions.authorize(s, deps.config.web.allowedRoles, 'use');
            return s;
          }
          scope.get('/session', route, async (req, reply) => {
            const s = await caller(req);
            return json(reply, { username: s.username, roles: s.roles, administrator: deps.isAdministrator(s.roles), dialect: s.dialect, createdAt: s.createdAt, expiresAt: s.expiresAt });
          });
          scope.get('/metrics', route, async (req, reply) => {
            const s = await caller(req);
            if (!deps.isAdministrator(s.roles)) throw new CoreError('forbidden');
            const raw = (req.query as Record<string, unknown>).hours;
            const hours = raw === undefined ? 3 : Number(raw);
            if (!Number.isInteger(hours) || hours < 1 || hours > 24) throw new CoreError('invalid_input', 'hours must be a whole number from 1 to 24');
            return json(reply, await buildMetrics(deps, sampler, hours));
          });
        },
        { prefix: '/console/api' },
      );

      // A browser pointed at the service's root lands in the console; API clients keep their JSON 404.
      app.get('/', route, async (req, reply) => {
        if (!prefersHtml(req)) return sendProblem(reply, consoleRenderer, { code: 'no_route', detail: 'GET /' });
        return redirect(reply, CONSOLE_PATH);
      });

      app.get(`${ASSET_PREFIX}:file`, route, async (req, reply) => {
        const f = c.assets.file((req.params as { file: string }).file);
        if (!f) return sendProblem(reply, consoleRenderer, { code: 'no_route', detail: 'no such asset' });
        return reply.header('cache-control', 'public, max-age=31536000, immutable').type(f.type).send(f.body);
      });

      app.register(async (scope) => {
        consoleScope(scope, c, errorPage);
        registerLogin(scope, c);
        registerPasswordChange(scope, c);
      });

      app.register(
        async (scope) => {
          consoleScope(scope, c, errorPage);

          scope.post('/logout', route, async (req, reply) => {
            const s = await currentSession(c, req);
            if (s) {
              if (!csrfMatches(formField(req.body, 'csrf'), s.csrf)) return sendHtml(c, reply, 403, await errorPage(403, 'csrf_mismatch', undefined, req));
              await deps.sessions.logout(s, requestContext(req, 'console'));
            }
            reply.header('set-cookie', clearedSessionCookies(c));
            return redirect(reply, LOGIN_PATH);
          });

          const helpers: PageHelpers = {
            /** The signed-in session, or a redirect (to sign in, or to the forced password change) already sent. */
            async gate(req, reply, opts = {}) {
              const s = await currentSession(c, req);
              if (!s) return void redirect(reply, `${LOGIN_PATH}${rdQuery(req.url)}`);
              // Enrolment of a required second factor first, then the forced password change.
              const enrol = await mustEnrol(c, s);
              if (enrol) {
                if (!opts.enrolment) return void redirect(reply, TOTP_PATH);
                return s;
              }
              if (s.mustChangePassword) return void redirect(reply, `${PASSWORD_PATH}${rdQuery(req.url)}`);
              if (opts.admin && !deps.isAdministrator(s.roles)) {
                return void sendHtml(c, reply, 403, await errorPage(403, 'forbidden', 'This page is for administrators.', req));
              }
              return s;
            },
            errorPage,
          };
          registerPages(scope, c, helpers);
          registerAdmin(scope, c, helpers, sampler);
        },
        { prefix: '/console' },
      );
    },
  };
}

/** Whether a request's Accept prefers HTML (a browser) over JSON. */
export function prefersHtml(req: FastifyRequest): boolean {
  const accept = req.headers.accept;
  if (typeof accept !== 'string') return false;
  let html = -1;
  let json = -1;
  for (const part of accept.split(',')) {
    const [type = '', ...params] = part.trim().toLowerCase().split(';');
    const q = Number(params.map((p) => p.trim()).find((p) => p.startsWith('q='))?.slice(2) ?? '1');
    if (type === 'text/html' || type === 'application/xhtml+xml') html = Math.max(html, q);
    if (type === 'application/json') json = Math.max(json, q);
  }
  return html > 0 && html >= json;
}
