import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import type { SessionService } from '../core/sessions.js';
import type { AccountService } from '../core/accounts.js';
import type { AuditService } from '../core/audit.js';
import type { SettingsService } from '../core/settings.js';
import type { Clock } from '../ports/clock.js';
import type { DialectRenderer } from '../http/common.js';
import type { DialectDocInfo } from '../http/openapi.js';

/** What a dialect may use: the core's use cases and the configuration, never a store. */
export interface DialectDeps {
  sessions: SessionService;
  accounts: AccountService;
  settings: SettingsService;
  audit: AuditService;
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
  /** Headers the 200 carries besides the security headers and the JSON content type (the Fastify route's own). */
  headers?: Record<string, string>;
  /**
   * The 200 body (an object, or its JSON text), or undefined to hand the request to Fastify.
   * Check the session with `sessions.authenticate(token, touch, null)`: the fast path counts
   * the checks it answers, the route the ones handed on (so none is counted twice).
   */
  answer(req: IncomingMessage, requestId: string): Promise<object | string | undefined>;
}

export interface Dialect extends DialectRenderer {
  register(app: FastifyInstance, deps: DialectDeps): void;
  /** Routes served on the fast path, if any. */
  fastRoutes?: FastRoute[];
  /** The header of the dialect's OpenAPI document; its routes (by `config.dialect`) make the rest (docs/openapi.md). */
  openapi?: DialectDocInfo;
}
