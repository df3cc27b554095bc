import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ErrorCode } from '../core/errors.js';
import type { RequestContext, SessionService } from '../core/sessions.js';
import type { SessionRecord } from '../ports/store.js';

/** Failures the HTTP layer itself detects, before or beside the core. */
export const transportCodes = ['no_route', 'method_not_allowed', 'uri_too_long', 'payload_too_large', 'unsupported_media_type', 'header_too_large', 'timeout'] as const;
export type TransportCode = (typeof transportCodes)[number];
export type ProblemCode = ErrorCode | TransportCode;

/** A failure to render in a dialect's envelope. */
export interface Problem {
  code: ProblemCode;
  /** Detail for the client; dialects with a fixed text for the code ignore it. */
  detail?: string;
  /** Overrides the status a dialect would choose for the code (framework errors carry their own). */
  status?: number;
}

/**
 * A failure the HTTP layer detects while reading a request (an unsupported
 * content type, say), thrown from a parser or hook so the app's error handler
 * renders it in the route's dialect like any other problem.
 */
export class TransportError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail ?? problem.code);
    this.name = 'TransportError';
  }
}

/** What each dialect provides to the shared error paths (framework errors, unknown routes, bad request heads). */
export interface DialectRenderer {
  readonly name: string;
  /** Whether a request path belongs to this dialect. */
  owns(path: string): boolean;
  render(problem: Problem, req: { id: string } | undefined): { status: number; body: object; headers?: Record<string, string> };
}

/** Sent on every response, success or failure. */
export function securityHeaders(tls: boolean): Record<string, string> {
  return {
    ...(tls && { 'strict-transport-security': 'max-age=31536000' }),
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
    'referrer-policy': 'no-referrer',
    'cross-origin-resource-policy': 'same-origin',
    'cache-control': 'no-store',
  };
}

/** The client's address as a plain IP ("::ffff:10.0.0.1" is shown as "10.0.0.1"). */
export function clientAddress(req: FastifyRequest): string {
  const ip = req.ip ?? '';
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

export function requestContext(req: FastifyRequest, dialect: string): RequestContext {
  return { requestId: req.id, clientAddress: clientAddress(req), dialect };
}

/** One header's value, or undefined when absent or sent more than once with different values. */
export function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' ? v : undefined;
}

/** `X-NOT-USER-INPUT: checkSession` marks automated polling that must not renew the idle timer. */
export function isUserActivity(req: Pick<FastifyRequest, 'headers'>): boolean {
  return userActivity(req.headers['x-not-user-input']);
}

/** The same, from the value of `X-NOT-USER-INPUT` (as {@link rawHeader} gives it). */
export function userActivity(v: string | string[] | undefined | null): boolean {
  return !(typeof v === 'string' && v.trim().toLowerCase() === 'checksession');
}

/**
 * A fast route's session check: the session of the token in `header` (read from the
 * raw list), given to `answer`, at once when this process holds it in memory, else
 * once the store has answered. Undefined (hand the request to the route) for no token,
 * a duplicated one, or no live session; the touch follows `X-NOT-USER-INPUT`. Not
 * counted here: the fast path counts what it answers, the route what it hands on.
 */
export function fastSessionCheck<T>(
  sessions: Pick<SessionService, 'authenticateNow' | 'authenticate'>,
  req: { rawHeaders: string[] },
  header: string,
  answer: (s: SessionRecord) => T | undefined,
): T | undefined | Promise<T | undefined> {
  const token = rawHeader(req, header);
  if (typeof token !== 'string') return undefined;
  const touch = userActivity(rawHeader(req, 'x-not-user-input'));
  const now = sessions.authenticateNow(token, touch);
  if (now) return answer(now);
  return sessions.authenticate(token, touch, null).then((s) => (s ? answer(s) : undefined));
}

/**
 * One header's value read from the raw list, without building `req.headers` (which
 * the fast path would pay for on every check): undefined when absent, null when sent
 * more than once (the fast path then hands the request on, and the route sees what
 * Node makes of the duplicates). `name` is lower case.
 */
export function rawHeader(req: { rawHeaders: string[] }, name: string): string | undefined | null {
  const raw = req.rawHeaders;
  let found: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i]!;
    if (k.length === name.length && (k === name || k.toLowerCase() === name)) {
      if (found !== undefined) return null;
      found = raw[i + 1];
    }
  }
  return found;
}

/** Parses `Authorization: Basic ...`. Returns undefined when the header is not Basic or is malformed. */
export function basicCredentials(req: FastifyRequest): { username: string; password: string } | undefined {
  const auth = header(req, 'authorization');
  if (!auth || auth.length > 4096) return undefined;
  const m = /^basic +([A-Za-z0-9+/]+=*) *$/i.exec(auth);
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** ISO 8601 in UTC to the second, as XClarity shows times: 2019-01-25T15:56:44Z. */
export function isoSeconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

export function sendProblem(reply: FastifyReply, renderer: DialectRenderer, problem: Problem): FastifyReply {
  const { status, body, headers } = renderer.render(problem, reply.request);
  if (headers) reply.headers(headers);
  return reply.code(status).type('application/json; charset=utf-8').send(body);
}
