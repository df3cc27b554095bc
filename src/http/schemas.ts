import { SETTING_NAMES } from '../core/settings.js';

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
