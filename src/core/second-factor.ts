import { createHash } from 'node:crypto';
import * as OTPAuth from 'otpauth';
import type { Clock } from '../ports/clock.js';
import type { Random } from '../ports/random.js';
import type { SecondFactor, SecondFactorStore } from '../ports/store.js';
import type { AuditContext, AuditService } from './audit.js';
import { CoreError } from './errors.js';
import { normalizeUsername } from './input.js';
import type { Logger } from './logger.js';

/** RFC 6238 as every authenticator app reads it: SHA-1, 6 digits, 30-second steps. */
const PERIOD_S = 30;
const DIGITS = 6;
/** Steps accepted either side of now (clock drift of the phone). */
const WINDOW = 1;
export const RECOVERY_CODE_COUNT = 10;
/** 16 base32 characters: 80 bits, so a stolen hash list cannot be searched. */
const RECOVERY_CHARS = 16;
const B32 = 'abcdefghijklmnopqrstuvwxyz234567';

export interface SecondFactorPolicy {
  issuer: string;
  /** Identity sources whose users may enrol ("local", "pam", "ldap"). */
  sources: readonly string[];
  requiredForAdministrators: boolean;
}

/** A code that matched, before it is spent. */
export type CodeMatch = { kind: 'totp'; step: number } | { kind: 'recovery'; hash: string };

/**
 * The TOTP second factor: enrolment, confirmation, recovery codes, reset, and the
 * check the login path makes. A code is spent atomically in the store, so a code
 * (or a recovery code) is accepted once, never replayed within its window.
 */
export class SecondFactorService {
  constructor(
    private readonly d: { store: SecondFactorStore; clock: Clock; random: Random; audit: AuditService; logger: Logger; policy: SecondFactorPolicy; isAdministrator(roles: readonly string[]): boolean },
  ) {}

  get policy(): SecondFactorPolicy {
    return this.d.policy;
  }

  /** Whether users of an identity source may enrol. */
  mayEnrol(source: string): boolean {
    return this.d.policy.sources.includes(source);
  }

  /** Whether policy demands a factor of this user (an administrator, when configured, of a source that may enrol). */
  requiredFor(roles: readonly string[], source: string): boolean {
    return this.d.policy.requiredForAdministrators && this.d.isAdministrator(roles) && this.mayEnrol(source);
  }

  async status(username: string): Promise<{ enrolled: boolean; pending: boolean; recoveryLeft: number; since: number | null }> {
    const f = await this.d.store.getSecondFactor(normalizeUsername(username));
    return { enrolled: f?.confirmedAt != null, pending: f !== null && f.confirmedAt === null, recoveryLeft: f?.confirmedAt != null ? f.recoveryLeft : 0, since: f?.confirmedAt ?? null };
  }

  /** The confirmed factor the login path must check, or null. */
  async confirmedFactor(username: string): Promise<SecondFactor | null> {
    const f = await this.d.store.getSecondFactor(normalizeUsername(username));
    return f && f.confirmedAt !== null ? f : null;
  }

  /** Users with a factor. */
  enrolledUsers(): Promise<string[]> {
    return this.d.store.listSecondFactorUsers();
  }

  private totp(username: string, secret: string): OTPAuth.TOTP {
    return new OTPAuth.TOTP({ issuer: this.d.policy.issuer, label: username, algorithm: 'SHA1', digits: DIGITS, period: PERIOD_S, secret: OTPAuth.Secret.fromBase32(secret) });
  }

  /**
   * Starts (or restarts) an enrolment: a new 160-bit secret, unconfirmed until a code
   * from it comes back. Refused while a confirmed factor exists (an administrator resets it first).
   */
  async begin(username: string, source: string): Promise<{ secret: string; uri: string }> {
    const name = normalizeUsername(username);
    if (!this.mayEnrol(source)) throw new CoreError('forbidden', `users of the ${source} source cannot enrol a second factor here`);
    const existing = await this.d.store.getSecondFactor(name);
    if (existing?.confirmedAt != null) throw new CoreError('conflict', 'a second factor is already enrolled');
    const secret = new OTPAuth.Secret({ buffer: bufferOf(this.d.random.bytes(20)) }).base32;
    await this.d.store.putSecondFactor(name, secret, this.d.clock.now());
    return { secret, uri: this.totp(name, secret).toString() };
  }

  /** The enrolment waiting for its first code (to show its QR code again), or null. */
  async pending(username: string): Promise<{ secret: string; uri: string } | null> {
    const name = normalizeUsername(username);
    const f = await this.d.store.getSecondFactor(name);
    if (!f || f.confirmedAt !== null) return null;
    return { secret: f.secret, uri: this.totp(name, f.secret).toString() };
  }

  /**
   * Confirms the pending enrolment with a code from the app and returns the 10
   * recovery codes (shown once; only their hashes are kept), or null for a wrong code.
   */
  async confirm(username: string, code: string, ctx: AuditContext): Promise<string[] | null> {
    const name = normalizeUsername(username);
    const f = await this.d.store.getSecondFactor(name);
    if (!f || f.confirmedAt !== null) return null;
    const step = this.totpStep(name, f.secret, code);
    if (step === null) return null;
    const codes = Array.from({ length: RECOVERY_CODE_COUNT }, () => this.newRecoveryCode());
    if (!(await this.d.store.confirmSecondFactor(name, step, codes.map((c) => recoveryHash(name, normalizeRecovery(c))), this.d.clock.now()))) return null;
    this.d.logger.info({ event: 'totp.enable', user: name }, 'second factor enrolled');
    await this.d.audit.record('totp.enable', ctx, name, {});
    return codes;
  }

  /** An administrator removes a user's factor (the user enrols again); audited. Returns whether there was one. */
  async reset(username: string, ctx: AuditContext, by: string): Promise<boolean> {
    const name = normalizeUsername(username);
    const had = await this.d.store.deleteSecondFactor(name);
    this.d.logger.info({ event: 'totp.reset', user: name, by, had }, 'second factor reset');
    await this.d.audit.record('totp.reset', ctx, name, { by, had });
    return had;
  }

  /**
   * Which code this is, without spending it: a current TOTP code (the step it is
   * for), a recovery code (its hash), or null. Costs the same for any input shape
   * (three HMACs and one SHA-256), so the time tells nothing.
   */
  match(f: SecondFactor, code: string | null): CodeMatch | null {
    const text = code ?? '';
    const isTotp = /^\d{6}$/.test(text);
    // Both computations run for every input.
    const step = this.totpStep(f.username, f.secret, isTotp ? text : '000000');
    const normalized = normalizeRecovery(text);
    const hash = recoveryHash(f.username, normalized);
    if (isTotp) return step === null ? null : { kind: 'totp', step };
    return normalized.length === RECOVERY_CHARS ? { kind: 'recovery', hash } : null;
  }

  /** Spends a matched code: false when it was used already (a replay) or the factor is gone. */
  async spend(f: SecondFactor, m: CodeMatch, ctx: AuditContext): Promise<boolean> {
    if (m.kind === 'totp') return this.d.store.claimTotpStep(f.username, m.step);
    const ok = await this.d.store.consumeRecoveryCode(f.username, m.hash);
    if (ok) {
      this.d.logger.info({ event: 'totp.recovery_used', user: f.username, left: f.recoveryLeft - 1 }, 'recovery code used');
      await this.d.audit.record('totp.recovery_used', ctx, f.username, { left: f.recoveryLeft - 1 });
    }
    return ok;
  }

  /** The step of a valid code within the window, or null. */
  private totpStep(username: string, secret: string, code: string): number | null {
    const now = this.d.clock.now();
    const delta = this.totp(username, secret).validate({ token: code, timestamp: now, window: WINDOW });
    if (delta === null) return null;
    return Math.floor(now / 1000 / PERIOD_S) + delta;
  }

  private newRecoveryCode(): string {
    const bytes = this.d.random.bytes(RECOVERY_CHARS);
    const chars = Array.from(bytes, (b) => B32[b & 31]).join('');
    return chars.match(/.{4}/g)!.join('-');
  }

  /** The current code of a secret (tests and the CLI's self-check). */
  static codeAt(secret: string, atMs: number): string {
    return new OTPAuth.TOTP({ algorithm: 'SHA1', digits: DIGITS, period: PERIOD_S, secret: OTPAuth.Secret.fromBase32(secret) }).generate({ timestamp: atMs });
  }
}

/**
 * FreeIPA's rule for clients with one password field: for an account with a second
 * factor, the last 6 characters are the code when they are digits.
 *
 * @example splitPasswordAndCode('s3cret123456') // { password: 's3cret', code: '123456' }
 */
export function splitPasswordAndCode(password: string): { password: string; code: string | null } {
  if (password.length > DIGITS && /\d{6}$/.test(password)) return { password: password.slice(0, -DIGITS), code: password.slice(-DIGITS) };
  return { password, code: null };
}

function normalizeRecovery(code: string): string {
  return code.toLowerCase().replace(/[\s-]/g, '');
}

function recoveryHash(username: string, normalized: string): string {
  return createHash('sha256').update(`portcullis-recovery\0${username}\0${normalized}`).digest('hex');
}

function bufferOf(b: Buffer): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}
