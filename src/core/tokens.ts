import * as crypto from 'node:crypto';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Random } from '../ports/random.js';

/** 256 bits: twice OWASP ASVS's 128-bit floor for reference tokens. */
const TOKEN_BYTES = 32;
const B32 = 'abcdefghijklmnopqrstuvwxyz234567';
/** base64url of 32 bytes, no padding. Anything else is rejected before hashing. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

export function newToken(random: Random): string {
  return random.bytes(TOKEN_BYTES).toString('base64url');
}

export function isTokenShaped(s: string): boolean {
  return s.length === 43 && TOKEN_SHAPE.test(s);
}

export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'latin1').digest();
}

/** Node ≥ 20.12's one-shot hash: no Hash object, no Buffer (a quarter of createHash's cost per check, measured). */
const oneShot = typeof crypto.hash === 'function' ? crypto.hash : undefined;

/**
 * The token's SHA-256 as a 32-character latin1 string: the key under which the
 * stores keep sessions in memory, the same bytes as `hashToken(token)`. For a
 * shape-checked token (ASCII only, so its UTF-8 and latin1 bytes agree).
 */
export function tokenKey(token: string): string {
  return oneShot ? oneShot('sha256', token, 'binary') : hashToken(token).toString('latin1'); // 'binary' is latin1
}

/** Constant-time equality of two token hashes (or any two equal-length secrets). */
export function sameSecret(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Constant-time equality of two strings; unequal lengths return false without comparing. */
export function sameString(a: string, b: string): boolean {
  const ab = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

/** A session id: 128 random bits as 26 lowercase base32 characters, the shape XClarity shows. */
export function newSessionId(random: Random): string {
  const bytes = random.bytes(16);
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += B32[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += B32[(buffer << (5 - bits)) & 31];
  return out;
}

export function newCsrfToken(random: Random): string {
  return random.bytes(32).toString('base64url');
}
