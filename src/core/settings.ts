import type { Clock } from '../ports/clock.js';
import type { SettingsStore } from '../ports/store.js';
import { CoreError } from './errors.js';

/**
 * The account policy, with XClarity's `userAccountSettings` names and units.
 * One home for every number the login and session rules use.
 */
export interface AccountSettings {
  /** Minutes of inactivity after which a session ends; 0 = never. */
  InactivityTimeout: number;
  /** Minutes after creation at which a session ends whatever its activity (Portcullis's own; > 0). */
  SessionLifetime: number;
  /** Minutes an account stays locked after MaximumLoginFailures; 0 = until an administrator unlocks it. */
  LockoutTime: number;
  /** Failed logins (within an hour, reset by a successful login) that lock the account. 1..100. */
  MaximumLoginFailures: number;
  /** Live sessions per user; 0 = unlimited. A login beyond it is refused. */
  MaxConcurrentSessions: number;
  /** Days after which a password must be changed at the next login; 0 = never. */
  MaximumPasswordExpiration: number;
  /** Shortest password accepted, in characters. */
  MinimumPasswordLength: number;
  /** A new password must not be one of the last N (the current one included); 0 = no check. */
  MinimumPasswordReuseCycle: number;
}

export type SettingName = keyof AccountSettings;

/** Each setting's range and meaning (for validation messages and docs/account-policy.md). */
export const SETTING_RULES: Record<SettingName, { min: number; max: number; unit: string }> = {
  InactivityTimeout: { min: 0, max: 525600, unit: 'minutes (0 = never)' },
  SessionLifetime: { min: 1, max: 525600, unit: 'minutes' },
  LockoutTime: { min: 0, max: 525600, unit: 'minutes (0 = until an administrator unlocks)' },
  MaximumLoginFailures: { min: 1, max: 100, unit: 'failures' },
  MaxConcurrentSessions: { min: 0, max: 1000, unit: 'sessions (0 = unlimited)' },
  MaximumPasswordExpiration: { min: 0, max: 3650, unit: 'days (0 = never)' },
  MinimumPasswordLength: { min: 1, max: 256, unit: 'characters' },
  MinimumPasswordReuseCycle: { min: 0, max: 24, unit: 'passwords (0 = no check)' },
};

export const SETTING_NAMES = Object.keys(SETTING_RULES) as SettingName[];

/** NIST SP 800-63B 5.2.2 / OWASP ASVS: no more than this many failed logins per account per hour. */
export const MAX_FAILURES_PER_HOUR = 100;

/**
 * Worst case of failed logins one account can take in an hour: each lock cycle
 * admits MaximumLoginFailures failures and then holds for LockoutTime minutes.
 */
export function failuresPerHour(s: Pick<AccountSettings, 'MaximumLoginFailures' | 'LockoutTime'>): number {
  if (s.LockoutTime === 0) return s.MaximumLoginFailures;
  return s.MaximumLoginFailures * Math.ceil(60 / s.LockoutTime + 1);
}

/** Returns why the settings are unacceptable, or null. */
export function settingsProblem(s: AccountSettings): string | null {
  for (const name of SETTING_NAMES) {
    const v = s[name];
    const r = SETTING_RULES[name];
    if (typeof v !== 'number' || !Number.isInteger(v)) return `${name} must be a whole number of ${r.unit}`;
    if (v < r.min || v > r.max) return `${name} must be between ${r.min} and ${r.max} ${r.unit}`;
  }
  if (failuresPerHour(s) > MAX_FAILURES_PER_HOUR) {
    return `MaximumLoginFailures ${s.MaximumLoginFailures} with LockoutTime ${s.LockoutTime} would allow up to ${failuresPerHour(s)} failed logins per account per hour; the limit is ${MAX_FAILURES_PER_HOUR} (NIST SP 800-63B): lower MaximumLoginFailures or raise LockoutTime`;
  }
  return null;
}

/**
 * Reads and changes the account policy. Stored values win over `defaults` (which
 * come from the configuration file), so the file seeds what was never set.
 * Read at every login (not on the session-check path): a change made by the CLI or
 * another process applies to the next login, and new sessions take the current values.
 */
export class SettingsService {
  constructor(
    private readonly store: SettingsStore,
    private readonly defaults: AccountSettings,
    private readonly clock: Clock,
  ) {}

  async get(): Promise<AccountSettings> {
    const stored = await this.store.getSettings();
    const out = { ...this.defaults };
    for (const name of SETTING_NAMES) {
      const v = stored[name];
      if (typeof v === 'number') out[name] = v;
    }
    return out;
  }

  /**
   * Validates the merged result and stores the named settings; returns the new
   * settings and what changed. Throws CoreError invalid_input naming the problem.
   */
  async set(patch: Record<string, unknown>): Promise<{ settings: AccountSettings; changed: Partial<Record<SettingName, { from: number; to: number }>> }> {
    const current = await this.get();
    const next = { ...current };
    for (const [name, value] of Object.entries(patch)) {
      if (!Object.hasOwn(SETTING_RULES, name)) throw new CoreError('invalid_input', `unknown setting "${name}" (known: ${SETTING_NAMES.join(', ')})`);
      if (typeof value !== 'number') throw new CoreError('invalid_input', `${name} must be a number`);
      next[name as SettingName] = value;
    }
    const problem = settingsProblem(next);
    if (problem) throw new CoreError('invalid_input', problem);
    const changed: Partial<Record<SettingName, { from: number; to: number }>> = {};
    const values: Record<string, number> = {};
    for (const name of SETTING_NAMES) {
      if (Object.hasOwn(patch, name)) values[name] = next[name];
      if (next[name] !== current[name]) changed[name] = { from: current[name], to: next[name] };
    }
    await this.store.putSettings(values, this.clock.now());
    return { settings: next, changed };
  }
}
