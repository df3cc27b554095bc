import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import type { SessionService } from '../core/sessions.js';
import type { AccountService } from '../core/accounts.js';
import type { AuditService } from '../core/audit.js';
import type { SettingsService } from '../core/settings.js';
import type { Clock } from '../ports/clock.js';
import type { DialectRenderer } from '../http/common.js';

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

export interface Dialect extends DialectRenderer {
  register(app: FastifyInstance, deps: DialectDeps): void;
}
