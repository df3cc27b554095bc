import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import FindMyWay, { type HTTPMethod } from 'find-my-way';
import { isCoreError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { FastReply, type Dialect, type DialectDeps, type FastAnswer, type FastRoute } from '../dialects/types.js';
import { metrics, noMetrics, type RouteObserver } from '../ports/metrics.js';
import { securityHeaders, sendProblem, TransportError, type DialectRenderer, type Problem } from './common.js';
import { holdReads, limitConnectionsPerSource } from './flood.js';
import { registerDocs } from './docs.js';
import { lazyValidation, type LazyValidation } from './lazy-validation.js';
import { documentOnlySerializer, recordRoutes, type DialectDocInfo } from './openapi.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Requests the fast routes answered, and those they handed to Fastify. */
    fastPath: { answered: number; handedOn: number };
    /** The dialect whose envelope a request's errors use (its route's, else the path's owner). */
    rendererFor(req: FastifyRequest): DialectRenderer;
    /** The routes' request validators, compiled at first use (src/http/lazy-validation.ts). */
    validators: LazyValidation;
  }
  interface FastifyContextConfig {
    /** Which dialect's envelope this route's errors use. */
    dialect?: string;
  }
}

export interface AppOptions {
  deps: DialectDeps;
  dialects: Dialect[];
  logger: Logger;
  /** PEM key and certificate; absent = plain HTTP. */
  tls?: { key: string; cert: string } | undefined;
  /** The package's version (the documents' info.version) and root (where docs/ is). */
  packageInfo?: { version: string; root: string | undefined };
  /** Serve the dialects' fast routes before Fastify (default true; off when every request must pass the hooks, as in client-testing mode). */
  fastPath?: boolean;
}

interface AjvError {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
}

/** Validation errors in words a client can act on, naming the field. */
function describeValidation(errors: AjvError[], dataVar: string): string {
  const e = errors[0];
  if (!e) return `${dataVar} is not valid`;
  const field = e.instancePath ? `"${e.instancePath.slice(1).replaceAll('/', '.')}"` : dataVar;
  switch (e.keyword) {
    case 'required':
      return `missing required field "${String(e.params.missingProperty)}"`;
    case 'additionalProperties':
      return `unknown field "${String(e.params.additionalProperty)}"`;
    case 'type':
      if (e.params.type === 'integer') return `field ${field} must be a whole number`;
      return e.instancePath ? `field ${field} must be a ${String(e.params.type)}` : `${dataVar} must be a JSON ${String(e.params.type)}`;
    default:
      return `${field} ${e.message ?? 'is not valid'}`;
  }
}

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' };

/** Builds the HTTP application (not listening). Tests drive it with `inject`. */
export function buildApp(opts: AppOptions): FastifyInstance {
  const { deps, dialects, logger } = opts;
  const http = deps.config.http;
  const flood = deps.config.flood;
  const fallback = dialects.find((d) => d.name === 'lxca') ?? dialects[dialects.length - 1];
  if (!fallback) throw new Error('at least one dialect must be enabled');
  const headers = securityHeaders(opts.tls !== undefined);
  const byName = new Map(dialects.map((d) => [d.name, d]));
  const dialectOfPath = (path: string): DialectRenderer => dialects.find((d) => d.name !== fallback.name && d.owns(path)) ?? fallback;
  const dialectOf = (req: FastifyRequest): DialectRenderer => {
    const name = req.routeOptions.config?.dialect;
    return (name && byName.get(name)) || dialectOfPath(req.url);
  };

  /**
   * The dialects' fast routes (the session checks) are answered before Fastify:
   * its request cycle costs more than the check itself. Only a plain request (no
   * body, head within the limit) whose answer is the route's 200 takes this path;
   * anything else (no or bad token, refusal, store error) goes to the Fastify
   * route, which renders it. Same headers, same body as the route.
   */
  const fastRoutes = opts.fastPath === false ? [] : dialects.flatMap((d) => d.fastRoutes ?? []);
  const fast = new Map(fastRoutes.filter((r) => !r.prefix && !r.subtree).map((r) => [`${r.method} ${r.path}`, r]));
  /** Routes for `path` + one segment (a session id): no further `/`, no query. */
  const fastPrefixed = fastRoutes.filter((r) => r.prefix);
  /** Routes for `path` and everything under it. */
  const fastSubtrees = fastRoutes.filter((r) => r.subtree);
  const prefixRoute = (method: string | undefined, url: string | undefined): FastRoute | undefined =>
    url === undefined
      ? undefined
      : (fastPrefixed.find((r) => r.method === method && url.length > r.path.length && url.startsWith(r.path) && !/[/?#]/.test(url.slice(r.path.length))) ??
        fastSubtrees.find((r) => r.method === method && url.startsWith(r.path) && (url.length === r.path.length || url[r.path.length] === '/' || url[r.path.length] === '?')));
  const fastDialect = new Map(dialects.flatMap((d) => (d.fastRoutes ?? []).map((r) => [r, d.name] as const)));
  const fastObservers = new Map<object, RouteObserver>();
  // Latency recorders, one per route family (dialect, route pattern, method): looked up once, then kept.
  const observers = new Map<string, RouteObserver>();
  const observer = (dialect: string, route: string, method: string): RouteObserver => {
    const key = `${dialect} ${method} ${route}`;
    let o = observers.get(key);
    if (!o) observers.set(key, (o = metrics().route(dialect, route, method)));
    return o;
  };
  const fastStats = { answered: 0, handedOn: 0 };
  const fastHeaders = Object.entries({ ...headers, 'content-type': 'application/json; charset=utf-8' }).flat();
  const plainHeaders = Object.entries(headers).flat();
  const routeHeaders = new Map(fastRoutes.map((r) => [r, [...fastHeaders, ...Object.entries(r.headers ?? {}).flat()]]));
  /** Each route's head for each body length it answered with (a check's length rarely varies): assembled once. */
  const routeHeads = new Map(fastRoutes.map((r) => [r, new Map<number, string[]>()]));
  const headWithLength = (route: FastRoute, length: number): string[] => {
    const heads = routeHeads.get(route)!;
    let head = heads.get(length);
    if (!head) {
      head = [...routeHeaders.get(route)!, 'content-length', String(length)];
      if (heads.size < 64) heads.set(length, head); // bounded: bodies of many lengths are assembled each time
    }
    return head;
  };

  const fastPath = (handler: (req: IncomingMessage, res: ServerResponse) => void) => (req: IncomingMessage, res: ServerResponse) => {
    // Stopping (the server no longer listens): answer, then close the connection.
    if (!server.listening) res.shouldKeepAlive = false;
    (req.socket as PathMemory)[LAST_PATH] = req.url;
    const route = fastRoutes.length > 0 ? (fast.get(`${req.method} ${req.url}`) ?? prefixRoute(req.method, req.url)) : undefined;
    if (route === undefined || !plainRequest(req, http.maxHeaderBytes)) return handler(req, res);
    // Latency only where metrics are on (otherwise two clock reads a check for nothing).
    const timed = metrics() !== noMetrics;
    const started = timed ? performance.now() : 0;
    const send = (body: FastAnswer | undefined): void => {
      if (body === undefined) {
        fastStats.handedOn++;
        return void handler(req, res);
      }
      fastStats.answered++;
      if (body instanceof FastReply) {
        res.writeHead(200, (body.head ??= [...plainHeaders, ...body.headers, 'content-length', String(Buffer.byteLength(body.body))]));
        res.end(body.body);
      } else {
        const json = typeof body === 'string' ? body : JSON.stringify(body);
        res.writeHead(200, headWithLength(route, Buffer.byteLength(json)));
        res.end(json);
      }
      const dialect = fastDialect.get(route) ?? 'other';
      if (timed) {
        let o = fastObservers.get(route);
        if (!o) fastObservers.set(route, (o = observer(dialect, route.prefix ? `${route.path}:id` : route.path, route.method)));
        o.done(200, (performance.now() - started) / 1000);
      }
      metrics().sessionCheck(dialect, 'valid'); // the fast route's check is not counted by the core (it may be handed on)
    };
    let answer: ReturnType<FastRoute['answer']>;
    try {
      answer = route.answer(req, randomUUID);
    } catch {
      answer = undefined; // the route renders whatever went wrong
    }
    // Most checks are answered at once (the session is in memory): no promise, no microtask.
    if (answer instanceof Promise) {
      answer.then(send, () => {
        fastStats.handedOn++;
        handler(req, res);
      });
    } else send(answer);
  };

  let server: Server;
  const validators = lazyValidation();
  const app = Fastify<Server>({
    logger: false, // Fastify's per-request child loggers cost ~14 µs a request; we log what matters ourselves.
    bodyLimit: http.bodyLimitBytes,
    trustProxy: deps.config.trustProxy,
    genReqId: () => randomUUID(),
    // A graceful stop answers what arrives on open connections (with Connection: close), closes idle ones at once,
    // and lets the caller bound the wait (see RunningServer.stop); Fastify's own 503 body is not any dialect's envelope.
    return503OnClosing: false,
    // Longer path parameters are answered 414 in the dialect's envelope (frameworkErrors below), never with Fastify's own body.
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    frameworkErrors: (error: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
      // Called before any hook: the security headers are not on the reply yet.
      reply.headers(headers);
      const problem: Problem =
        error.code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? { code: 'uri_too_long', detail: `A path parameter is longer than ${MAX_PARAM_LENGTH} characters.` }
          : error.code === 'FST_ERR_BAD_URL'
            ? { code: 'invalid_input', detail: 'The URL is not valid (a malformed percent-encoding).' }
            : { code: 'invalid_input', detail: 'The request is not valid.' };
      return sendProblem(reply, dialectOfPath(req.url), problem);
    },
    forceCloseConnections: 'idle',
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false } },
    // Validators compiled at first use; bodies serialized with JSON.stringify (response schemas only document, see
    // documentOnlySerializer): Fastify then loads neither Ajv nor fast-json-stringify while the service starts.
    schemaController: { compilersFactory: { buildValidator: validators.buildValidator as never, buildSerializer: () => documentOnlySerializer } },
    schemaErrorFormatter: (errors, dataVar) => new Error(describeValidation(errors as AjvError[], dataVar)),
    serverFactory: (handler) => {
      // Node's parser stops only heads far over the limit (it cannot tell whose envelope to answer in);
      // the onRequest hook enforces the configured limit with the route known.
      const serverOptions = { maxHeaderSize: hardHeaderLimit(http.maxHeaderBytes), requestTimeout: http.requestTimeoutMs, headersTimeout: Math.min(http.requestTimeoutMs, 20000) };
      const serve = fastPath(handler);
      server = opts.tls
        ? createHttpsServer({ ...serverOptions, key: opts.tls.key, cert: opts.tls.cert, minVersion: 'TLSv1.2' }, serve)
        : createHttpServer(serverOptions, serve);
      // Behind a trusted proxy every connection is the proxy's: no per-source connection limit there.
      if (flood.connectionsPerSource > 0 && !deps.config.trustProxy) limitConnectionsPerSource(server, flood.connectionsPerSource);
      return server;
    },
    clientErrorHandler: (error: Error, socket: Socket) => {
      const err = error as NodeJS.ErrnoException & { rawPacket?: Buffer };
      if (err.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
      const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
      const code = status === 431 ? 'header_too_large' : status === 408 ? 'timeout' : 'invalid_input';
      const path = requestPath(err.rawPacket) ?? (socket as PathMemory)[LAST_PATH] ?? '/';
      const rendered = dialectOfPath(path).render({ code, status, detail: 'Malformed HTTP request.' }, undefined);
      const json = JSON.stringify(rendered.body);
      const head = [
        `HTTP/1.1 ${status} ${STATUS_TEXT[status]}`,
        'content-type: application/json; charset=utf-8',
        `content-length: ${Buffer.byteLength(json)}`,
        'connection: close',
        // The dialect's own headers too (Redfish's OData-Version), as on every other error path.
        ...Object.entries({ ...headers, ...rendered.headers }).map(([k, v]) => `${k}: ${v}`),
      ].join('\r\n');
      socket.end(`${head}\r\n\r\n${json}`);
    },
  });

  /*
   * Bodies are JSON. An empty one (a DELETE or GET from a client that always sends
   * Content-Type: application/json) is no body at all. A body without any
   * Content-Type is parsed as JSON too, as real appliances do (a widely used HCX
   * client sends none); a body with another explicit type is 415.
   */
  const json = app.getDefaultJsonParser('error', 'error');
  const parseJson = (req: FastifyRequest, body: string, done: (err: Error | null, body?: unknown) => void) => {
    if (body === '') return done(null, undefined);
    json(req, body, done);
  };
  app.removeAllContentTypeParsers();
  for (const type of ['application/json', JSON_SUFFIX]) {
    app.addContentTypeParser(type, { parseAs: 'string' }, (req, body, done) => parseJson(req, body as string, done));
  }
  app.addContentTypeParser('*', { parseAs: 'string' }, (req, body, done) => {
    if (req.headers['content-type'] === undefined) return parseJson(req, body as string, done);
    done(new TransportError({ code: 'unsupported_media_type', detail: 'Use Content-Type: application/json.' }));
  });

  /*
   * Which methods each path answers, for 405 + Allow: Fastify answers an unknown
   * method like an unknown path. The same routes, matched by the same router.
   */
  const methodsOf = FindMyWay({ maxParamLength: MAX_PARAM_LENGTH });
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const m of methods) methodsOf.on(m as HTTPMethod, route.url, () => undefined);
  });
  const allowedMethods = (url: string): string[] => {
    const path = url.split('?', 1)[0]!;
    return ALL_METHODS.filter((m) => methodsOf.find(m, path) !== null);
  };

  app.addHook('onRequest', (req, reply, done) => {
    reply.headers(headers);
    if (headSize(req.raw.rawHeaders, req.raw.url) > http.maxHeaderBytes) {
      const renderer = dialectOfPath(req.url);
      if ((req.raw.url?.length ?? 0) > http.maxHeaderBytes) {
        return void sendProblem(reply, renderer, { code: 'uri_too_long', detail: `The limit for the request line and headers is ${http.maxHeaderBytes} bytes.` });
      }
      return void sendProblem(reply, renderer, { code: 'header_too_large', detail: `The limit is ${http.maxHeaderBytes} bytes.` });
    }
    done();
  });

  app.addHook('onResponse', (req, reply, done) => {
    // Route patterns only (a bounded set); unmatched paths are one family per dialect.
    const route = req.routeOptions.url ?? 'unmatched';
    const dialect = req.routeOptions.config?.dialect ?? (route === 'unmatched' ? dialectOfPath(req.url).name : 'service');
    observer(dialect, route, req.method).done(reply.statusCode, reply.elapsedTime / 1000);
    done();
  });

  app.setNotFoundHandler((req, reply) => {
    const path = req.url.length > 200 ? `${req.url.slice(0, 200)}…` : req.url;
    const allow = allowedMethods(req.url);
    if (allow.length > 0) {
      reply.header('allow', allow.join(', '));
      return sendProblem(reply, dialectOfPath(req.url), { code: 'method_not_allowed', detail: `${req.method} ${path}; allowed: ${allow.join(', ')}` });
    }
    return sendProblem(reply, dialectOfPath(req.url), { code: 'no_route', detail: `${req.method} ${path}` });
  });

  app.setErrorHandler((error: FastifyError, req, reply) => {
    const renderer = dialectOf(req);
    let problem: Problem;
    if (error instanceof TransportError) {
      problem = error.problem;
    } else if (isCoreError(error)) {
      problem = { code: error.code, detail: error.message };
      if (error.code === 'identity_unavailable' || error.code === 'internal' || error.code === 'unavailable') {
        logger.error({ event: 'request.error', reqId: req.id, code: error.code, err: error.message, cause: causeText(error.cause) }, 'request failed');
      }
      // `busy` is not logged per request: during a login storm that would be thousands of lines a second; the audit counts refusals in bulk.
      // The connection is read again only after the Retry-After it is told: an attacker ignoring it cannot turn refusals into a tight loop.
      if (error.code === 'busy' && !deps.config.trustProxy) holdReads(req.raw.socket, flood.holdAfterRefusalMs);
    } else if (error.validation) {
      problem = { code: 'invalid_input', detail: error.message };
    } else if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      problem = { code: 'payload_too_large', detail: `The limit is ${http.bodyLimitBytes} bytes.` };
    } else if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      problem = { code: 'unsupported_media_type', detail: 'Use Content-Type: application/json.' };
    } else if (error instanceof SyntaxError || error.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
      problem = { code: 'invalid_input', detail: `body is not valid JSON (${error.message})` };
    } else if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
      problem = { code: 'invalid_input', status: error.statusCode, detail: error.message };
    } else {
      if (typeof error.code === 'string' && error.code.startsWith('SQLITE_')) metrics().backendError('sqlite', error.code === 'SQLITE_BUSY' ? 'timeout' : 'error');
      logger.error({ event: 'request.error', reqId: req.id, err: error.message, stack: error.stack }, 'unexpected error');
      problem = { code: 'internal' };
    }
    return sendProblem(reply, renderer, problem);
  });

  app.decorate('fastPath', fastStats);
  app.decorate('validators', validators);
  // Response schemas document the routes (OpenAPI); the bytes stay the handlers' own (key order, every key).
  app.setSerializerCompiler(documentOnlySerializer);
  recordRoutes(app, new Map(dialects.flatMap((d): [string, DialectDocInfo][] => (d.openapi ? [[d.name, d.openapi]] : []))), opts.packageInfo?.version ?? '0.0.0', (path) => dialectOfPath(path).name);
  app.decorate('rendererFor', dialectOf);
  for (const d of dialects) d.register(app, deps);
  registerDocs(app, deps, { renderer: byName.get('admin') ?? fallback, packageRoot: opts.packageInfo?.root });
  return app;
}

/** Longest path parameter the router matches; longer ones are answered 414. */
const MAX_PARAM_LENGTH = 256;
/** Structured-syntax JSON types (RFC 6839), e.g. application/merge-patch+json. */
const JSON_SUFFIX = /^application\/[a-z0-9.!#$&^_-]+\+json(?:\s*;.*)?$/i;
const ALL_METHODS: HTTPMethod[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/** The path of the request on a connection, kept for a parser error whose packet no longer shows it. */
const LAST_PATH = Symbol('portcullis.lastPath');
type PathMemory = Socket & { [LAST_PATH]?: string | undefined };

/**
 * The path of the request line at the start of a raw packet, if the packet starts
 * with one. A head too large for Node's parser usually overflows in a later packet
 * than its request line; the caller then falls back to the connection's last path.
 */
function requestPath(raw: Buffer | undefined): string | undefined {
  if (!raw) return undefined;
  const m = /^[A-Z]{3,10} (\S+) HTTP\/1\.[01]\r?$/m.exec(raw.subarray(0, 8192).toString('latin1').split('\n', 1)[0]!);
  return m?.[1];
}

/** Size of a request head as sent: request line and `name: value\r\n` lines. */
/**
 * A request the fast path may answer: no body (a Content-Length of 0 is none: Envoy's
 * ext_authz sends it), no Transfer-Encoding, the head within the limit. One pass over
 * the raw header list: `req.headers` is not built for it.
 */
function plainRequest(req: IncomingMessage, maxHeaderBytes: number): boolean {
  const raw = req.rawHeaders;
  let n = (req.url?.length ?? 0) + 16;
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i]!;
    const v = raw[i + 1]!;
    n += k.length + v.length + 4;
    if (k.length === 14 && k.toLowerCase() === 'content-length' && v !== '0') return false;
    if (k.length === 17 && k.toLowerCase() === 'transfer-encoding') return false;
  }
  return n <= maxHeaderBytes;
}

function headSize(rawHeaders: string[], url: string | undefined): number {
  let n = (url?.length ?? 0) + 16;
  for (let i = 0; i < rawHeaders.length; i++) n += rawHeaders[i]!.length + 2;
  return n;
}

/**
 * Where Node's own parser gives up: far past the configured limit, so that heads
 * over it are still parsed and answered by the onRequest hook, which knows the
 * route and so the envelope (a long query string plus headers on an HCX path is
 * answered in HCX's). Past this bound the head is cut off by Node's parser; its
 * request line is usually out of view by then (a packet of a TLS record or one
 * socket read), so the path comes from the connection's previous request, else
 * the default dialect answers. The bound costs at most this much memory per
 * connection while a head arrives (within http.requestTimeoutMs / 20 s).
 */
export function hardHeaderLimit(limit: number): number {
  return Math.max(262144, limit * 4);
}

function causeText(cause: unknown): string | undefined {
  return cause === undefined ? undefined : cause instanceof Error ? cause.message : String(cause);
}
