import { randomBytes } from 'node:crypto';
import { parse as parseCookies, serialize as serializeCookie, type SerializeOptions } from 'cookie';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isCoreError } from '../../core/errors.js';
import { sameString } from '../../core/tokens.js';
import { TransportError, header, isUserActivity, type ProblemCode } from '../../http/common.js';
import { checkReturnUrl } from '../../http/return-url.js';
import type { SessionRecord } from '../../ports/store.js';
import type { DialectDeps } from '../types.js';
import type { Assets } from './assets.js';
import { CONSOLE_PATH, MESSAGES, statusOf } from './envelope.js';

export const CSRF_COOKIE = 'csrf';
/** The login form's own anti-CSRF cookie (before there is a session). */
export const LOGIN_CSRF_COOKIE = 'portcullis_login_csrf';

export interface ConsoleContext {
  deps: DialectDeps;
  assets: Assets;
  /** Content-Security-Policy of every HTML page. */
  csp: string;
  sessionCookie: string;
  sessionCookieOptions: SerializeOptions;
  csrfCookieOptions: SerializeOptions;
  provider: string;
}

export function consoleContext(deps: DialectDeps, assets: Assets): ConsoleContext {
  const web = deps.config.web;
  const domain = web.cookieDomain ? { domain: web.cookieDomain } : {};
  // Browsers block a redirect that follows a form post unless form-action allows its target.
  const returnHosts = web.allowedReturnDomains.flatMap((d) => [`https://${d}`, `https://*.${d}`, `http://${d}`, `http://*.${d}`]);
  return {
    deps,
    assets,
    csp: [
      "default-src 'none'",
      "script-src 'self'",
      "style-src 'self'",
      "img-src 'self' data:",
      "connect-src 'self'",
      `form-action 'self'${returnHosts.map((h) => ` ${h}`).join('')}`,
      "frame-ancestors 'none'",
      "base-uri 'none'",
    ].join('; '),
    sessionCookie: deps.config.lxca.sessionCookie,
    // The XClarity session cookie, readable by every dialect; lax so that a link from another site to a protected app keeps the login.
    sessionCookieOptions: { path: '/', httpOnly: true, secure: true, sameSite: web.sameSite, ...domain },
    // Scripts copy the csrf cookie into X-Csrf-Token (XClarity), so it is readable by design.
    csrfCookieOptions: { path: '/', secure: true, sameSite: web.sameSite, ...domain },
    provider: web.provider ?? deps.config.lxca.provider,
  };
}

export function cookiesOf(req: FastifyRequest): Record<string, string | undefined> {
  const raw = header(req, 'cookie');
  if (!raw) return {};
  try {
    return parseCookies(raw);
  } catch {
    return {};
  }
}

/** The live session of the request's session cookie, or null. Polling (`X-NOT-USER-INPUT: checkSession`) does not renew it. */
export async function currentSession(c: ConsoleContext, req: FastifyRequest): Promise<SessionRecord | null> {
  return c.deps.sessions.authenticate(cookiesOf(req)[c.sessionCookie], isUserActivity(req));
}

export function sessionCookies(c: ConsoleContext, token: string, csrf: string): string[] {
  return [serializeCookie(c.sessionCookie, token, c.sessionCookieOptions), serializeCookie(CSRF_COOKIE, csrf, c.csrfCookieOptions)];
}

export function clearedSessionCookies(c: ConsoleContext): string[] {
  return [
    serializeCookie(c.sessionCookie, '', { ...c.sessionCookieOptions, maxAge: 0 }),
    serializeCookie(CSRF_COOKIE, '', { ...c.csrfCookieOptions, maxAge: 0 }),
  ];
}

export function newFormToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Constant-time check of a form's csrf field against the expected token. */
export function csrfMatches(sent: unknown, expected: string | undefined): boolean {
  return typeof sent === 'string' && expected !== undefined && expected.length > 0 && sameString(sent, expected);
}

export function sendHtml(c: ConsoleContext, reply: FastifyReply, status: number, html: string): FastifyReply {
  return reply.code(status).header('content-security-policy', c.csp).type('text/html; charset=utf-8').send(html);
}

/** 303 See Other: after a form post the browser follows with a GET. */
export function redirect(reply: FastifyReply, location: string): FastifyReply {
  return reply.code(303).header('location', location).type('text/plain; charset=utf-8').send(`See ${location}\n`);
}

/** Where to go after signing in: a checked `rd`, or the console. */
export function returnTarget(c: ConsoleContext, rd: unknown): { url: string; refused?: string } {
  if (typeof rd !== 'string' || rd === '') return { url: CONSOLE_PATH };
  const check = checkReturnUrl(rd, c.deps.config.web.allowedReturnDomains);
  return check.ok ? { url: check.url } : { url: CONSOLE_PATH, refused: check.reason };
}

export class FormError extends Error {
  readonly statusCode = 400;
  constructor(message: string) {
    super(message);
    this.name = 'FormError';
  }
}

/** A form body as a plain record of strings (a field given twice is refused: which one would count?). */
export type Form = Record<string, string>;

export function formField(form: unknown, name: string): string | undefined {
  if (typeof form !== 'object' || form === null) return undefined;
  const v = (form as Record<string, unknown>)[name];
  return typeof v === 'string' ? v : undefined;
}

/**
 * Scopes the console's routes: web forms parsed, and every failure rendered as an
 * HTML page in the route's status (unexpected errors go to the app's handler).
 */
export function consoleScope(
  app: FastifyInstance,
  c: ConsoleContext,
  errorPage: (status: number, code: ProblemCode, detail: string | undefined, req: FastifyRequest) => Promise<string> | string,
): void {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    const out: Form = Object.create(null) as Form;
    for (const [k, v] of new URLSearchParams(body as string)) {
      if (Object.hasOwn(out, k)) return done(new FormError(`field "${k}" is given more than once`), undefined);
      out[k] = v;
    }
    done(null, out);
  });
  app.setErrorHandler(async (error: FastifyError, req, reply) => {
    let code: ProblemCode;
    let status: number | undefined;
    let detail: string | undefined;
    if (error instanceof TransportError) {
      code = error.problem.code;
      status = error.problem.status;
      if (code === 'unsupported_media_type') detail = 'Send the form as application/x-www-form-urlencoded.';
    } else if (isCoreError(error)) {
      code = error.code;
      if (code === 'invalid_input') detail = error.message;
      if (code === 'internal') throw error;
    } else if (error.validation || error instanceof FormError) {
      code = 'invalid_input';
      detail = error.message;
    } else if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      code = 'payload_too_large';
    } else if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      code = 'unsupported_media_type';
    } else if (error instanceof SyntaxError || error.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
      code = 'invalid_input';
      detail = 'The body is not valid JSON.';
    } else if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
      code = 'invalid_input';
      status = error.statusCode;
    } else {
      throw error;
    }
    if (code === 'busy' || code === 'unavailable') reply.header('retry-after', code === 'busy' ? '1' : '2');
    const st = statusOf(code, status);
    return sendHtml(c, reply, st, await errorPage(st, code, detail, req));
  });
}

export { MESSAGES };
