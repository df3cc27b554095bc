import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import type { SessionService } from '../core/sessions.js';
import type { AccountService } from '../core/accounts.js';
import type { AuditService } from '../core/audit.js';
import type { SettingsService } from '../core/settings.js';
import type { SecondFactorService } from '../core/second-factor.js';
import type { ThrottledSources } from '../core/sources.js';
import type { IdentitySources } from '../identity/build.js';
import type { Clock } from '../ports/clock.js';
import type { DialectRenderer } from '../http/common.js';
import type { DialectDocInfo } from '../http/openapi.js';

/** What a dialect may use: the core's use cases and the configuration, never a store. */
export interface DialectDeps {
  sessions: SessionService;
  accounts: AccountService;
  settings: SettingsService;
  audit: AuditService;
  secondFactors: SecondFactorService;
  /** Throttled sources (list, release). Optional: only the console uses it. */
  throttle?: ThrottledSources;
  /** The configured identity sources, for the console's state view (never their stores). */
  identity?: Pick<IdentitySources, 'providers'>;
  config: Config;
  clock: Clock;
  /** Whether a set of roles includes an administrator role. */
  isAdministrator(roles: readonly string[]): boolean;
}

/**
 * A route answered before Fastify, for the hottest call of a dialect (the session
 * check). `answer` returns the 200 body, or undefined to hand the request to the
 * Fastify route unchanged (every failure, every unusual request): the fast path
 * only ever produces the success the full route would produce.
 */
export interface FastRoute {
  method: 'GET';
  path: string;
  /** `path` is a prefix: the route takes `path` + one segment (an id), without `/` or a query after it. */
  prefix?: boolean;
  /** `path` and everything under it: `path`, `path/…` and `path?…` (the Envoy check, whose path is a prefix + the original path). */
  subtree?: boolean;
  /** Headers the 200 carries besides the security headers and the JSON content type (the Fastify route's own). */
  headers?: Record<string, string>;
  /**
   * The 200 body (an object, or its JSON text), a {@link FastReply}, or undefined to hand the request to Fastify;
   * at once when it can (a session this process holds in memory: `sessions.authenticateNow`), else a promise of it
   * (`sessions.authenticate(token, touch, null)`). The fast path counts the checks it answers, the route the ones
   * handed on (so none is counted twice). `requestId` makes the request's id, for the answers that show one.
   */
  answer(req: IncomingMessage, requestId: () => string): FastAnswer | undefined | Promise<FastAnswer | undefined>;
}

/** What a fast route answers with: the 200's JSON body (an object or its text), or a reply of its own. */
export type FastAnswer = object | string | FastReply;

/** A fast 200 with headers of its own (beside the security headers) and a body that need not be JSON. */
export class FastReply {
  /**
   * @param headers flat name/value list, as `res.writeHead` takes it (names lower case)
   * @param body the body; empty = none (no Content-Type is sent then)
   */
  constructor(
    readonly headers: readonly string[],
    readonly body: string = '',
  ) {}

  /** The whole head as written, kept by the app once built: a reply reused for many requests (one per session) is assembled once. */
  head: string[] | undefined;
}

export interface Dialect extends DialectRenderer {
  register(app: FastifyInstance, deps: DialectDeps): void;
  /** Routes served on the fast path, if any. */
  fastRoutes?: FastRoute[];
  /** The header of the dialect's OpenAPI document; its routes (by `config.dialect`) make the rest (docs/openapi.md). */
  openapi?: DialectDocInfo;
}
