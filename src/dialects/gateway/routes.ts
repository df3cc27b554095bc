import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ConfigError } from '../../config.js';
import { hasRequiredRole, type RequestContext } from '../../core/sessions.js';
import { sameSecret } from '../../core/tokens.js';
import { basicCredentials, isUserActivity, requestContext, sendProblem } from '../../http/common.js';
import { findSessionToken } from '../../http/credentials.js';
import type { Principal } from '../../ports/identity.js';
import type { SessionRecord } from '../../ports/store.js';
import { FastReply, type Dialect, type DialectDeps } from '../types.js';
import { BasicCache } from './basic-cache.js';
import { AUTH_PREFIX, INTROSPECT_PATH, challenge, gatewayRenderer } from './envelope.js';
import { ENVOY_PREFIX, originalRequest, prefersHtml, type Convention, type OriginalRequest } from './original.js';
import { DOCUMENTED_METHODS, gatewayDocs } from './openapi.js';
import { compileRules, decide, normalizePath, pathMatcher, type RuleDecision } from './rules.js';

const NGINX_PATH = `${AUTH_PREFIX}request`;
const FORWARD_PATH = `${AUTH_PREFIX}forward`;
const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** What a forward-auth check concluded. */
export type Outcome =
  | { kind: 'allow'; headers: readonly string[] }
  | { kind: 'login'; original: OriginalRequest }
  | { kind: 'password_change'; original: OriginalRequest }
  | { kind: 'deny' }
  | { kind: 'bad'; detail: string };

/** Whether `host` is `domain` or a host under it. */
export function hostInDomain(host: string, domain: string): boolean {
  return host === domain || host.endsWith(`.${domain}`);
}

/**
 * A header value as it may travel: printable ASCII as is; anything else (a name
 * with accents, a control character a directory let through) percent-encoded as
 * UTF-8, so no value can break the head or be read differently by the proxy.
 */
export function headerValue(v: string): string {
  return /^[\x20-\x7e]*$/.test(v) ? v : encodeURIComponent(v);
}

/**
 * The appliance gateway: forward-auth for nginx (`/portcullis/auth/request`),
 * Traefik and Caddy (`/portcullis/auth/forward`) and Envoy
 * (`/portcullis/auth/ext-authz/…`), and token introspection (RFC 7662). See
 * docs/gateway.md.
 */
export function gatewayDialect(deps: DialectDeps): Dialect {
  const { sessions, config, clock } = deps;
  const cfg = config.gateway;
  const renderer = gatewayRenderer(cfg.basic.enabled);
  const rules = compileRules(cfg.rules);
  const mayChangePassword = pathMatcher(cfg.passwordChangePaths);
  const names = cfg.identityHeaders;
  const credentialOptions = { sessionCookie: config.lxca.sessionCookie };
  const basicCache = new BasicCache(cfg.basic.cacheSeconds * 1000, cfg.basic.cacheEntries, () => clock.now());
  const basicProvider = cfg.basic.provider ?? config.lxca.provider;
  const clients = introspectionClients(cfg.introspection.clients);
  const docs = gatewayDocs(renderer, { basic: cfg.basic.enabled, identityHeaders: cfg.identityHeaders, sessionCookie: config.lxca.sessionCookie });

  /** Identity header names in a fixed order; the values follow the same order. */
  const headerNames = [names.user, names.groups, names.name, names.email, names.sessionId, names.authSource]
    .map((n) => n?.toLowerCase())
    .filter((n): n is string => n !== undefined);
  function identityHeaders(p: { username: string; roles: readonly string[]; id?: string; authSource: string }): string[] {
    const out: string[] = [];
    const push = (name: string | undefined, value: string) => {
      if (name !== undefined) out.push(name.toLowerCase(), headerValue(value));
    };
    push(names.user, p.username);
    push(names.groups, p.roles.join(','));
    push(names.name, p.username);
    // No e-mail address is known for accounts: sent empty, so a proxy that copies the header overwrites the client's.
    push(names.email, '');
    push(names.sessionId, p.id ?? '');
    push(names.authSource, p.authSource);
    return out;
  }
  /** Every identity header, empty: what an anonymous request carries upstream (overwriting anything the client sent). */
  const anonymousHeaders = headerNames.flatMap((n) => [n, '']);
  const sessionHeaders = new WeakMap<SessionRecord, string[]>();
  const headersOf = (s: SessionRecord) => {
    let h = sessionHeaders.get(s);
    if (!h) sessionHeaders.set(s, (h = identityHeaders(s)));
    return h;
  };

  /** Rule decisions by method, host and URI: the same URL asked about again costs a map lookup. */
  const decisions = new Map<string, { path: string; decision: RuleDecision } | undefined>();
  function ruleDecision(o: OriginalRequest): { path: string; decision: RuleDecision } | undefined {
    const key = `${o.method} ${o.hostname} ${o.uri}`;
    let d = decisions.get(key);
    if (d === undefined && !decisions.has(key)) {
      const path = normalizePath(o.uri);
      d = path === undefined ? undefined : { path, decision: decide(rules, { method: o.method, hostname: o.hostname, path }) };
      if (key.length <= 1024) {
        if (decisions.size >= 10_000) decisions.clear();
        decisions.set(key, d);
      }
    }
    return d;
  }

  /**
   * The whole check. `ctx` is needed only for HTTP Basic (a password check, audited);
   * without it (the fast path) a Basic request is handed on by returning undefined.
   */
  /**
   * The original request and the rules' decision, by the raw headers that carry it
   * (the same URL asked about again costs one map lookup, no parsing).
   */
  const parsed = new Map<string, { original: OriginalRequest; ruled: { path: string; decision: RuleDecision } | undefined } | string>();
  function parse(conv: Convention, h: IncomingHttpHeaders, method: string, url: string) {
    const key =
      conv === 'nginx' && typeof h['x-original-url'] === 'string'
        ? `n ${h['x-original-method']} ${h['x-original-url']}`
        : conv === 'envoy'
          ? `e ${method} ${h.host} ${h['x-forwarded-proto']} ${url}`
          : `f ${h['x-forwarded-method']} ${h['x-forwarded-proto']} ${h['x-forwarded-host']} ${h['x-forwarded-uri']}`;
    let p = parsed.get(key);
    if (p === undefined) {
      const original = originalRequest(conv, h, method, url);
      p = typeof original === 'string' ? original : { original, ruled: ruleDecision(original) };
      // Bounded: at most 10 000 keys of at most 1 KiB each (longer URLs are parsed every time).
      if (key.length <= 1024) {
        if (parsed.size >= 10_000) parsed.clear();
        parsed.set(key, p);
      }
    }
    return p;
  }

  async function evaluate(conv: Convention, h: IncomingHttpHeaders, method: string, url: string, ctx?: () => RequestContext): Promise<Outcome | undefined> {
    const p = parse(conv, h, method, url);
    if (typeof p === 'string') return { kind: 'bad', detail: p };
    const { original, ruled } = p;
    // A path the rules cannot read unambiguously (an encoded dot segment or slash) is refused, not guessed at.
    if (!ruled) return { kind: 'deny' };
    const { path, decision } = ruled;
    if (decision.kind === 'deny') return { kind: 'deny' };
    if (decision.kind === 'anonymous') return { kind: 'allow', headers: anonymousHeaders };

    const found = findSessionToken(h, credentialOptions);
    let who: { roles: readonly string[]; mustChangePassword: boolean; headers: readonly string[] };
    if (found) {
      // The fast path (no ctx) leaves the counting of checks to the app; the route counts its own.
      const session = await sessions.authenticate(found.token, isUserActivity({ headers: h }), ctx ? 'gateway' : null);
      if (!session) return { kind: 'login', original };
      // A browser's cookie rides along on cross-site requests by itself: no cross-site write reaches an upstream with it.
      if (found.source === 'cookie' && cfg.refuseCrossSiteWrites && UNSAFE.has(original.method) && h['sec-fetch-site'] === 'cross-site') return { kind: 'deny' };
      who = { roles: session.roles, mustChangePassword: session.mustChangePassword, headers: headersOf(session) };
    } else if (cfg.basic.enabled && typeof h.authorization === 'string' && /^basic /i.test(h.authorization)) {
      if (!ctx) return undefined;
      const principal = await basicPrincipal(h, ctx());
      if (!principal) return { kind: 'login', original };
      who = { roles: principal.roles, mustChangePassword: principal.mustChangePassword, headers: identityHeaders({ ...principal, authSource: principal.source }) };
    } else {
      return { kind: 'login', original };
    }
    if (!hasRequiredRole(who.roles, decision.roles)) return { kind: 'deny' };
    if (who.mustChangePassword && !mayChangePassword(path)) return { kind: 'password_change', original };
    return { kind: 'allow', headers: who.headers };
  }

  async function basicPrincipal(h: IncomingHttpHeaders, ctx: RequestContext): Promise<Principal | undefined> {
    const creds = basicCredentials({ headers: h } as FastifyRequest);
    if (!creds) return undefined;
    const cached = basicCache.get(creds.username, creds.password);
    if (cached) return cached;
    const checked = await sessions.verifyCredentials({ provider: basicProvider, username: creds.username, password: creds.password, requiredRoles: 'any' }, ctx);
    if (checked.kind !== 'ok') return undefined;
    basicCache.set(creds.username, creds.password, checked.principal);
    return checked.principal;
  }

  /** Where a browser without a session goes: the login page, with a return URL that cannot lead off the configured domains. */
  function loginLocation(o: OriginalRequest): string | undefined {
    let rd: string;
    if (cfg.returnDomains.some((d) => hostInDomain(o.hostname, d))) rd = `${o.proto}://${o.host}${o.uri}`;
    else if (cfg.loginUrl.startsWith('/')) rd = o.uri; // the login page is on the host the browser asked: a path stays there
    else return undefined;
    return `${cfg.loginUrl}${cfg.loginUrl.includes('?') ? '&' : '?'}rd=${encodeURIComponent(rd)}`;
  }

  function render(conv: Convention, req: FastifyRequest, reply: FastifyReply, outcome: Outcome): FastifyReply {
    switch (outcome.kind) {
      case 'allow': {
        const hs = outcome.headers;
        for (let i = 0; i < hs.length; i += 2) reply.header(hs[i]!, hs[i + 1]!);
        return reply.code(200).send();
      }
      case 'bad':
        return sendProblem(reply, renderer, { code: 'invalid_input', detail: `Forward-auth request: ${outcome.detail} (check the proxy's configuration).` });
      case 'deny':
        return sendProblem(reply, renderer, { code: 'forbidden' });
      case 'login':
      case 'password_change': {
        const location = prefersHtml(req.headers) ? loginLocation(outcome.original) : undefined;
        if (location !== undefined) {
          // nginx's auth_request passes on only 401 and 403; its config turns this 401's Location into the 302.
          reply.header('location', location);
          if (conv !== 'nginx') reply.header('www-authenticate', challenge(cfg.basic.enabled));
          return reply
            .code(conv === 'nginx' ? 401 : 302)
            .type('application/json; charset=utf-8')
            .send({ error: outcome.kind === 'login' ? 'invalid_session' : 'password_change_required', error_description: 'Log in first.', location });
        }
        return sendProblem(reply, renderer, { code: outcome.kind === 'login' ? 'invalid_session' : 'password_change_required' });
      }
    }
  }

  const forwardRoute = (conv: Convention) => async (req: FastifyRequest, reply: FastifyReply) => {
    const outcome = await evaluate(conv, req.headers, req.method, req.url, () => requestContext(req, 'gateway'));
    return render(conv, req, reply, outcome!);
  };

  /** One reply per header list (a session's, or the anonymous one): its head is assembled once. */
  const fastReplies = new WeakMap<readonly string[], FastReply>();
  const fastAnswer = (conv: Convention) => async (req: { headers: IncomingHttpHeaders; method?: string | undefined; url?: string | undefined }) => {
    const outcome = await evaluate(conv, req.headers, req.method ?? 'GET', req.url ?? '/');
    if (outcome?.kind !== 'allow') return undefined;
    let reply = fastReplies.get(outcome.headers);
    if (!reply) fastReplies.set(outcome.headers, (reply = new FastReply(outcome.headers)));
    return reply;
  };

  // ---- introspection (RFC 7662) ----

  /** The caller is a configured client (HTTP Basic or client_id/client_secret in the body) or an administrator's session. */
  async function introspectionCaller(req: FastifyRequest, body: Record<string, unknown>): Promise<'ok' | 'unauthenticated' | 'forbidden'> {
    const basic = basicCredentials(req);
    const id = basic?.username ?? (typeof body.client_id === 'string' ? body.client_id : undefined);
    const secret = basic?.password ?? (typeof body.client_secret === 'string' ? body.client_secret : undefined);
    if (id !== undefined || secret !== undefined) {
      const want = clients.get(id ?? '') ?? DUMMY_SECRET_HASH; // the same work for an unknown id
      const got = createHash('sha256').update(secret ?? '', 'utf8').digest();
      return sameSecret(want, got) && clients.has(id ?? '') ? 'ok' : 'unauthenticated';
    }
    const found = findSessionToken(req.headers, credentialOptions);
    if (!found) return 'unauthenticated';
    const s = await sessions.authenticate(found.token, isUserActivity(req), 'gateway');
    if (!s) return 'unauthenticated';
    return deps.isAdministrator(s.roles) && !s.mustChangePassword ? 'ok' : 'forbidden';
  }

  function introspectionView(s: SessionRecord) {
    const idleEnd = s.idleTimeoutMs > 0 ? s.lastAccessedAt + s.idleTimeoutMs : Infinity;
    return {
      active: true,
      username: s.username,
      sub: s.username,
      roles: s.roles,
      token_type: 'Bearer',
      exp: Math.floor(Math.min(s.expiresAt, idleEnd) / 1000),
      iat: Math.floor(s.createdAt / 1000),
      sid: s.id,
      auth_source: s.authSource,
      dialect: s.dialect,
    };
  }

  return {
    ...renderer,
    openapi: docs.info,
    fastRoutes: [
      { method: 'GET', path: NGINX_PATH, answer: fastAnswer('nginx') },
      { method: 'GET', path: FORWARD_PATH, answer: fastAnswer('forward') },
      { method: 'GET', path: ENVOY_PREFIX, subtree: true, answer: fastAnswer('envoy') },
    ],
    register(app: FastifyInstance) {
      const route = { config: { dialect: 'gateway' } };
      app.register(async (scope) => {
        // A check carries no body the gateway reads: whatever a proxy sends along is ignored (still bounded by bodyLimit).
        scope.removeAllContentTypeParsers();
        scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, _body, done) => done(null, undefined));
        // Every method Fastify routes is checked; the document shows OpenAPI's methods (HEAD is GET's); QUERY answers the same, undocumented.
        const checks: [string, Convention][] = [[NGINX_PATH, 'nginx'], [FORWARD_PATH, 'forward'], [ENVOY_PREFIX, 'envoy'], [`${ENVOY_PREFIX}/*`, 'envoy']];
        const others = scope.supportedMethods.filter((m) => m !== 'HEAD' && !(DOCUMENTED_METHODS as readonly string[]).includes(m));
        for (const [url, conv] of checks) {
          const handler = forwardRoute(conv);
          for (const method of DOCUMENTED_METHODS) {
            scope.route({ method, url, ...route, schema: docs.check(conv, method, url.endsWith('*')), handler });
          }
          if (others.length > 0) scope.route({ method: others, url, ...route, schema: { hide: true }, handler });
        }
      });
      if (!cfg.introspection.enabled) return;
      app.register(async (scope) => {
        scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
          done(null, Object.fromEntries(new URLSearchParams(body as string)));
        });
        scope.post(INTROSPECT_PATH, { ...route, schema: docs.introspect }, async (req, reply) => {
          const body = (req.body ?? {}) as Record<string, unknown>;
          if (typeof body !== 'object' || Array.isArray(body)) {
            return sendProblem(reply, renderer, { code: 'invalid_input', detail: 'The body must be a form (token=…) or a JSON object.' });
          }
          const caller = await introspectionCaller(req, body);
          if (caller === 'unauthenticated') {
            reply.header('www-authenticate', 'Basic realm="portcullis-introspection", Bearer realm="portcullis"');
            return reply.code(401).type('application/json; charset=utf-8').send({ error: 'invalid_client', error_description: 'Client authentication failed.' });
          }
          if (caller === 'forbidden') return sendProblem(reply, renderer, { code: 'forbidden' });
          const token = body.token;
          if (typeof token !== 'string' || token === '' || token.length > 4096) {
            return reply.code(400).type('application/json; charset=utf-8').send({ error: 'invalid_request', error_description: 'Give the token to introspect as token=….' });
          }
          // Asking is not the user's activity: introspection never renews the idle timer.
          const s = await sessions.authenticate(token, false, 'gateway');
          return reply.code(200).type('application/json; charset=utf-8').send(s && !s.mustChangePassword ? introspectionView(s) : { active: false });
        });
      });
    },
  };
}

const DUMMY_SECRET_HASH = createHash('sha256').update('portcullis: no such client').digest();

/** client_id → SHA-256 of its secret, from the configuration (secret files read now). */
function introspectionClients(list: readonly { id: string; secretSha256?: string | undefined; secretFile?: string | undefined }[]): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  list.forEach((c, i) => {
    if (c.secretSha256 !== undefined) return void out.set(c.id, Buffer.from(c.secretSha256, 'hex'));
    let secret: string;
    try {
      secret = readFileSync(c.secretFile!, 'utf8').split(/\r?\n/, 1)[0] ?? '';
    } catch (e) {
      throw new ConfigError(`invalid configuration: gateway.introspection.clients.${i}.secretFile: cannot read ${c.secretFile}: ${(e as Error).message}`);
    }
    if (secret.length < 16) throw new ConfigError(`invalid configuration: gateway.introspection.clients.${i}.secretFile: the secret must be at least 16 characters`);
    out.set(c.id, createHash('sha256').update(secret, 'utf8').digest());
  });
  return out;
}
