import { SETTING_NAMES, SETTING_RULES } from '../core/settings.js';

/** Request bodies that more than one dialect accepts, validated by one schema each. */

/** `{"currentPassword", "newPassword"}`: a user changing their own password. */
export const passwordChangeBody = {
  type: 'object',
  required: ['currentPassword', 'newPassword'],
  additionalProperties: false,
  properties: { currentPassword: { type: 'string' }, newPassword: { type: 'string' } },
} as const;

/** A partial set of account settings by their XClarity names, every value a whole number. */
export const settingsBody = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: Object.fromEntries(SETTING_NAMES.map((n) => [n, { type: 'integer' }])),
} as const;

/** A session id in a path. */
export const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 128 } },
} as const;

/** The whole set of account settings as answered (documentation of the responses; docs/account-policy.md). */
export const settingsSchema = {
  type: 'object',
  required: [...SETTING_NAMES],
  additionalProperties: false,
  properties: Object.fromEntries(
    SETTING_NAMES.map((n) => [n, { type: 'integer', minimum: SETTING_RULES[n].min, maximum: SETTING_RULES[n].max, description: SETTING_RULES[n].unit }]),
  ),
} as const;

/** The default account settings, as an example. */
export const SETTINGS_EXAMPLE = {
  InactivityTimeout: 24,
  SessionLifetime: 1440,
  LockoutTime: 60,
  MaximumLoginFailures: 20,
  MaxConcurrentSessions: 3,
  MaximumPasswordExpiration: 90,
  MinimumPasswordLength: 8,
  MinimumPasswordReuseCycle: 5,
};

/** A partial settings body's examples. */
export const SETTINGS_BODY_EXAMPLES = [{ LockoutTime: 30 }, { MaxConcurrentSessions: 5, InactivityTimeout: 60 }];

/** A password change's example. */
export const PASSWORD_CHANGE_EXAMPLES = [{ currentPassword: 'Old-Passw0rd', newPassword: 'New-Passw0rd-2026' }];
