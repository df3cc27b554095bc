import type { FastifyInstance, RouteOptions } from 'fastify';
import { errorCodes } from '../core/errors.js';
import { transportCodes, type DialectRenderer, type ProblemCode } from './common.js';

/**
 * OpenAPI 3.1 documents made from the routes themselves (docs/openapi.md).
 *
 * A route belongs to the document of its `config.dialect`. Its `schema` gives:
 * - `body`, `params`, `querystring`: the schemas Fastify validates with, as the
 *   request body and the path and query parameters;
 * - `response`: OpenAPI Response Objects by status (`description`, `headers`,
 *   `content: {'application/json': {schema, example}}`). They document; they never
 *   serialize (the app's serializer is JSON.stringify, see `documentOnlySerializer`),
 *   so a body's keys and their order are the handler's;
 * - `summary`, `description`, `operationId`, `tags`, `security` (OpenAPI
 *   Security Requirements; `[]` = none) and `parameters` (extra OpenAPI Parameter
 *   Objects, e.g. request headers, documented but not validated).
 * Routes without a dialect (health probes, /docs itself) are operational and in no document.
 */

type Json = Record<string, unknown>;

/** OpenAPI Security Requirements: any one of the objects; all schemes of one object together. */
export type Security = Record<string, string[]>[];

/** What a dialect tells its document besides its routes. */
export interface DialectDocInfo {
  title: string;
  description: string;
  /** OpenAPI Security Scheme Objects by name. */
  securitySchemes?: Record<string, Json>;
  /** The dialect's error envelope, as `components.schemas.Error` (what an unknown path is answered with). */
  errorSchema: Json;
}

export interface RecordedRoute {
  method: string;
  /** Fastify's path, e.g. /sessions/:id */
  url: string;
  dialect: string | undefined;
  schema: Json | undefined;
}

export interface OpenApiRegistry {
  /** Dialects with a document, in registration order. */
  dialects(): string[];
  /** Dialects that registered routes but gave no `openapi` header (so have no document): should be none. */
  undocumented(): string[];
  /** The dialect's OpenAPI 3.1 document, or undefined when the dialect has none. */
  document(dialect: string): Json | undefined;
  /** Routes that belong to no dialect (operational), as method and Fastify path. */
  operational(): { method: string; url: string }[];
  /** The dialect whose envelope answers a path no route matches. */
  ownerOf(path: string): string;
}

declare module 'fastify' {
  interface FastifyInstance {
    openapi: OpenApiRegistry;
  }
  /** The documentation keys a route's schema may carry (read by the document, ignored by Fastify). */
  interface FastifySchema {
    summary?: string;
    description?: string;
    operationId?: string;
    tags?: string[];
    security?: Security;
    parameters?: Record<string, unknown>[];
    /** An OpenAPI Request Body documented but not validated (a form or JSON body the handler reads itself). */
    requestBody?: Record<string, unknown>;
    /** In no document (a page of the dialect's envelope that is no part of its API). */
    hide?: boolean;
  }
}

/** The body serializer of every route: response schemas document, they do not shape the bytes. */
export const documentOnlySerializer = () => (data: unknown) => JSON.stringify(data);

/**
 * Starts recording routes (call before any route is added) and decorates `app.openapi`.
 * `info` is each dialect's document header, by dialect name.
 */
export function recordRoutes(app: FastifyInstance, info: Map<string, DialectDocInfo>, version: string, ownerOf: (path: string) => string): void {
  const routes: RecordedRoute[] = [];
  app.addHook('onRoute', (r: RouteOptions) => {
    const methods = Array.isArray(r.method) ? r.method : [r.method];
    for (const m of methods) {
      // Fastify adds a HEAD route for every GET; the document shows the GET (no dialect declares HEAD itself).
      if (m === 'HEAD') continue;
      const schema = r.schema as Json | undefined;
      // `schema.hide`: a route of the dialect's envelope that is no part of its API (the /docs pages).
      const dialect = schema?.hide === true ? undefined : (r.config as { dialect?: string } | undefined)?.dialect;
      routes.push({ method: m, url: r.url, dialect, schema });
    }
  });
  const cache = new Map<string, Json>();
  // The operator console serves HTML pages for browsers, not an API: like the probes, it is in no document.
  const isApi = (r: { dialect?: string | undefined }) => r.dialect !== undefined && !PAGE_DIALECTS.has(r.dialect);
  app.decorate('openapi', {
    dialects: () => [...info.keys()].filter((d) => routes.some((r) => r.dialect === d)),
    undocumented: () => [...new Set(routes.flatMap((r) => (isApi(r) && !info.has(r.dialect!) ? [r.dialect!] : [])))],
    document(dialect: string) {
      const i = info.get(dialect);
      if (!i || !routes.some((r) => r.dialect === dialect)) return undefined;
      let doc = cache.get(dialect);
      if (!doc) {
        doc = buildDocument(i, routes.filter((r) => r.dialect === dialect), version);
        cache.set(dialect, doc);
      }
      return structuredClone(doc);
    },
    operational: () => routes.filter((r) => !isApi(r)).map((r) => ({ method: r.method, url: r.url })),
    ownerOf,
  } satisfies OpenApiRegistry);
}

/** Dialects whose routes are pages for browsers (HTML forms), documented in docs/, not in OpenAPI. */
const PAGE_DIALECTS = new Set(['console']);

/** /sessions/:id → /sessions/{id}; a trailing wildcard (/ext-authz/*) → {path}, documented by the route as a multi-segment parameter. */
export function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace(/\/\*$/, '/{path}');
}

function parametersFrom(schema: Json | undefined, where: 'path' | 'query'): Json[] {
  if (!schema || typeof schema.properties !== 'object' || schema.properties === null) return [];
  const required = new Set((schema.required as string[] | undefined) ?? []);
  return Object.entries(schema.properties as Record<string, Json>).map(([name, s]) => {
    const { description, ...rest } = s;
    return {
      name,
      in: where,
      required: where === 'path' || required.has(name),
      ...(description !== undefined && { description }),
      schema: rest,
    };
  });
}

function operation(r: RecordedRoute): Json {
  const s = r.schema ?? {};
  const op: Json = {};
  for (const k of ['summary', 'description', 'operationId', 'tags']) if (s[k] !== undefined) op[k] = s[k];
  const parameters = [
    ...parametersFrom(s.params as Json | undefined, 'path'),
    ...parametersFrom(s.querystring as Json | undefined, 'query'),
    ...((s.parameters as Json[] | undefined) ?? []),
  ];
  if (parameters.length > 0) op.parameters = parameters;
  if (s.body) {
    const { examples, ...schema } = s.body as Json;
    const media: Json = { schema };
    if (Array.isArray(examples) && examples.length > 0) {
      media.examples = Object.fromEntries(examples.map((value, i) => [`example${i + 1}`, { value }]));
    }
    op.requestBody = { required: true, content: { 'application/json': media } };
  } else if (s.requestBody) {
    op.requestBody = s.requestBody;
  }
  if (s.security !== undefined) op.security = s.security;
  const responses = (s.response as Record<string, Json> | undefined) ?? {};
  op.responses = Object.keys(responses).length > 0 ? responses : { default: { description: 'Not documented.' } };
  return op;
}

function buildDocument(info: DialectDocInfo, routes: RecordedRoute[], version: string): Json {
  const paths: Record<string, Record<string, Json>> = {};
  for (const r of routes) {
    const p = openApiPath(r.url);
    (paths[p] ??= {})[r.method.toLowerCase()] = operation(r);
  }
  return {
    openapi: '3.1.0',
    info: { title: info.title, version, description: info.description },
    paths,
    components: {
      schemas: { Error: info.errorSchema },
      ...(info.securitySchemes && { securitySchemes: info.securitySchemes }),
    },
  };
}

/** Every failure a dialect can be asked to render: the core's codes and the transport's. */
export const problemCodes: readonly ProblemCode[] = [...(Object.keys(errorCodes) as ProblemCode[]), ...transportCodes];

/** What each problem code means, for the responses' descriptions. */
const MEANING: Record<ProblemCode, string> = {
  ...errorCodes,
  no_route: 'No API at that path for that method.',
  method_not_allowed: 'The path exists, the method does not (the Allow header lists those that do).',
  uri_too_long: 'The request line or a path parameter is over its limit.',
  payload_too_large: 'The request body is over http.bodyLimitBytes.',
  unsupported_media_type: 'The request body is not JSON.',
  header_too_large: 'The request head is over http.maxHeaderBytes.',
  timeout: 'The request was not received within http.requestTimeoutMs.',
};

const HEADER_DOCS: Record<string, string> = {
  'retry-after': 'Seconds to wait before sending the same request again.',
  'www-authenticate': 'The authentication scheme the client may use.',
};

/** How a dialect's error schema is narrowed to the bodies of one status (e.g. its errorCode or message ids), from the rendered bodies. */
export type NarrowErrors = (bodies: object[]) => Json;

/**
 * The error responses of a route, by status, made by the dialect's own renderer:
 * each status lists the codes that produce it, one rendered example each, and the
 * headers the renderer sends with it (required when every code of the status sends it).
 * `status` moves a code to another status on this route (as the route renders it);
 * `req` is what the renderer sees of the request (a dialect with two envelopes picks one by its URL).
 * `narrow` tightens the envelope to what those bodies hold (allOf), so the drift
 * check sees a code answered with the wrong status.
 */
export function problemResponses(
  renderer: DialectRenderer,
  codes: readonly ProblemCode[],
  envelope: Json,
  opts: { status?: Partial<Record<ProblemCode, number>>; narrow?: NarrowErrors; req?: { id: string; url?: string } } = {},
): Record<string, Json> {
  const byStatus = new Map<number, { code: ProblemCode; body: object; headers: Record<string, string> }[]>();
  for (const code of codes) {
    const status = opts.status?.[code];
    const r = renderer.render({ code, ...(status !== undefined && { status }) }, opts.req);
    const list = byStatus.get(r.status) ?? [];
    list.push({ code, body: r.body, headers: r.headers ?? {} });
    byStatus.set(r.status, list);
  }
  const out: Record<string, Json> = {};
  for (const [status, list] of [...byStatus].sort((a, b) => a[0] - b[0])) {
    const names = [...new Set(list.flatMap((e) => Object.keys(e.headers)))];
    const headers = Object.fromEntries(
      names.map((n) => [
        headerName(n),
        {
          description: HEADER_DOCS[n] ?? n,
          required: list.every((e) => n in e.headers),
          schema: { type: 'string', examples: [...new Set(list.map((e) => e.headers[n]).filter((v) => v !== undefined))] },
        },
      ]),
    );
    out[String(status)] = {
      description: list.map((e) => `\`${e.code}\`: ${MEANING[e.code]}`).join(' '),
      ...(names.length > 0 && { headers }),
      content: {
        'application/json': {
          schema: opts.narrow ? { allOf: [envelope, opts.narrow(list.map((e) => e.body))] } : envelope,
          examples: Object.fromEntries(list.map((e) => [e.code, { value: e.body }])),
        },
      },
    };
  }
  return out;
}

/** The distinct values, for an enum. */
export const distinct = <T>(values: T[]): T[] => [...new Set(values)];

/** Header names as clients usually write them: retry-after → Retry-After. */
function headerName(n: string): string {
  return n.replace(/(^|-)([a-z])/g, (_m, d: string, c: string) => d + c.toUpperCase()).replace('Www-', 'WWW-');
}

/** Failures any route can meet: a malformed or oversized request, a store that does not answer, a bug. */
export const TRANSPORT_PROBLEMS: readonly ProblemCode[] = ['invalid_input', 'uri_too_long', 'payload_too_large', 'unsupported_media_type', 'header_too_large', 'timeout', 'internal', 'unavailable'];

/** A JSON response with its schema and an example. */
export function jsonResponse(description: string, schema: Json, example?: unknown, headers?: Record<string, Json>): Json {
  return {
    description,
    ...(headers && { headers }),
    content: { 'application/json': { schema, ...(example !== undefined && { example }) } },
  };
}

/** `X-NOT-USER-INPUT: checkSession`: a request that does not renew the session's idle timer. */
export const notUserInputHeader: Json = {
  name: 'X-NOT-USER-INPUT',
  in: 'header',
  required: false,
  description: '`checkSession` marks automated polling: the request does not renew the session\'s inactivity timer.',
  schema: { type: 'string', enum: ['checkSession'] },
};
