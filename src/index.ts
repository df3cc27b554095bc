export { loadConfig, configSchema, ConfigError } from './config.js';
export type { Config } from './config.js';
export { SessionService, isExpired, hasRequiredRole } from './core/sessions.js';
export type { SessionPolicy, LoginCommand, LoginResult, CredentialResult, RequestContext, RoleRequirement } from './core/sessions.js';
export { AccountService, viewAccount } from './core/accounts.js';
export { SettingsService, SETTING_NAMES, SETTING_RULES, settingsProblem, failuresPerHour, MAX_FAILURES_PER_HOUR } from './core/settings.js';
export type { AccountSettings, SettingName } from './core/settings.js';
export { AuditService, AUDIT_KINDS } from './core/audit.js';
export type { AuditKind, AuditContext } from './core/audit.js';
export type { BruteForcePolicy, FailureReason, SessionAction } from './core/sessions.js';
export type { AccountView, NewAccountInput, AccountDefaults } from './core/accounts.js';
export { CoreError, errorCodes } from './core/errors.js';
export type { ErrorCode } from './core/errors.js';
export type { Logger } from './core/logger.js';
export type {
  Account,
  AccountStore,
  SessionRecord,
  SessionStore,
  SessionLimitStore,
  LoginGuardStore,
  FailureScope,
  FailureRule,
  FailureState,
  PasswordHistoryStore,
  SettingsStore,
  AuditStore,
  AuditEvent,
  AuditRecord,
  AuditFilter,
} from './ports/store.js';
export type { IdentityProvider, Principal, AuthOutcome } from './ports/identity.js';
export { IdentitySourceError } from './ports/identity.js';
export type { PasswordHasher } from './ports/hasher.js';
export type { Clock } from './ports/clock.js';
export { SqliteStore } from './adapters/store/sqlite/store.js';
export { Argon2idHasher, OWASP_ARGON2ID } from './adapters/hasher/argon2.js';
export { openPortcullis } from './service.js';
export type { Portcullis } from './service.js';
export { createApp, startServer } from './server.js';
