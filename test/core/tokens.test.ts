import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { hashToken, isTokenShaped, newCsrfToken, newSessionId, newToken, sameSecret, sameString, tokenKey } from '../../src/core/tokens.js';
import { rawHeader, userActivity } from '../../src/http/common.js';
import { cryptoRandom, type Random } from '../../src/ports/random.js';

/** A Random that hands out the given bytes and records what was asked of it. */
function fixedRandom(fill: (n: number) => Buffer): Random & { asked: number[] } {
  const asked: number[] = [];
  return {
    asked,
    bytes(n) {
      asked.push(n);
      return fill(n);
    },
    uuid: () => '00000000-0000-4000-8000-000000000000',
  };
}

/** RFC 4648 base32, lowercase, no padding: the reference the session id must match. */
function base32(bytes: Buffer): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  const bits = [...bytes].map((b) => b.toString(2).padStart(8, '0')).join('');
  let out = '';
  for (let i = 0; i < bits.length; i += 5) out += alphabet[parseInt(bits.slice(i, i + 5).padEnd(5, '0'), 2)];
  return out;
}

describe('session tokens', () => {
  it('are 43 base64url characters carrying 256 random bits', () => {
    for (let i = 0; i < 50; i++) {
      const t = newToken(cryptoRandom);
      assert.match(t, /^[A-Za-z0-9_-]{43}$/);
      const raw = Buffer.from(t, 'base64url');
      assert.equal(raw.length, 32);
      assert.equal(raw.toString('base64url'), t, 'the token is the canonical encoding of 32 bytes');
    }
  });

  it('take their 32 bytes from the Random port', () => {
    const bytes = randomBytes(32);
    const r = fixedRandom(() => Buffer.from(bytes));
    assert.equal(newToken(r), bytes.toString('base64url'));
    assert.deepEqual(r.asked, [32]);
  });

  it('are distinct every time', () => {
    const seen = new Set(Array.from({ length: 2000 }, () => newToken(cryptoRandom)));
    assert.equal(seen.size, 2000);
  });

  it('are recognized by their shape, and anything else is not', () => {
    assert.equal(isTokenShaped(newToken(cryptoRandom)), true);
    assert.equal(isTokenShaped('A'.repeat(43)), true);
    for (const bad of ['', 'A'.repeat(42), 'A'.repeat(44), `${'A'.repeat(42)}=`, `${'A'.repeat(42)}+`, `${'A'.repeat(42)}/`, `${'A'.repeat(42)}é`, ` ${'A'.repeat(42)}`, `${'A'.repeat(42)}\n`]) {
      assert.equal(isTokenShaped(bad), false, JSON.stringify(bad));
    }
  });
});

describe('hashToken', () => {
  it('is the SHA-256 of the token: 32 bytes', () => {
    const t = newToken(cryptoRandom);
    const h = hashToken(t);
    assert.ok(Buffer.isBuffer(h));
    assert.equal(h.length, 32);
    assert.deepEqual(h, createHash('sha256').update(t, 'utf8').digest());
  });

  it('matches the known SHA-256 test vector', () => {
    assert.equal(hashToken('abc').toString('hex'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('gives different hashes for different tokens and the same hash for the same token', () => {
    const a = newToken(cryptoRandom);
    const b = newToken(cryptoRandom);
    assert.deepEqual(hashToken(a), hashToken(a));
    assert.notDeepEqual(hashToken(a), hashToken(b));
  });
});

describe('sameSecret and sameString', () => {
  it('sameSecret is true for equal buffers and false for any difference', () => {
    const a = randomBytes(32);
    assert.equal(sameSecret(a, Buffer.from(a)), true);
    const b = Buffer.from(a);
    b[0] = b[0]! ^ 0x80;
    assert.equal(sameSecret(a, b), false);
    const c = Buffer.from(a);
    c[31] = c[31]! ^ 1;
    assert.equal(sameSecret(a, c), false);
  });

  it('sameSecret is false, without throwing, for buffers of different lengths', () => {
    const a = randomBytes(32);
    assert.equal(sameSecret(a, a.subarray(0, 31)), false);
    assert.equal(sameSecret(Buffer.alloc(0), a), false);
    assert.equal(sameSecret(Buffer.alloc(0), Buffer.alloc(0)), true);
  });

  it('sameString compares text exactly, including unicode, and is false for different lengths', () => {
    assert.equal(sameString('csrf-token', 'csrf-token'), true);
    assert.equal(sameString('Zürich 🚀', 'Zürich 🚀'), true);
    assert.equal(sameString('csrf-token', 'csrf-tokeN'), false);
    assert.equal(sameString('csrf-token', 'csrf-token-longer'), false);
    assert.equal(sameString('', 'x'), false);
    assert.equal(sameString('', ''), true);
    assert.equal(sameString('e\u0301', '\u00e9'), false, 'no normalization: a secret is its exact bytes');
  });
});

describe('session ids', () => {
  it('are 26 lowercase base32 characters', () => {
    for (let i = 0; i < 200; i++) assert.match(newSessionId(cryptoRandom), /^[a-z2-7]{26}$/);
  });

  it('encode 128 bits from the Random port as RFC 4648 base32', () => {
    for (let i = 0; i < 200; i++) {
      const bytes = randomBytes(16);
      const r = fixedRandom(() => Buffer.from(bytes));
      assert.equal(newSessionId(r), base32(bytes), bytes.toString('hex'));
      assert.deepEqual(r.asked, [16]);
    }
    assert.equal(newSessionId(fixedRandom((n) => Buffer.alloc(n, 0))), 'a'.repeat(26));
    assert.equal(newSessionId(fixedRandom((n) => Buffer.alloc(n, 0xff))), `${'7'.repeat(25)}4`);
  });

  it('are distinct every time', () => {
    const seen = new Set(Array.from({ length: 2000 }, () => newSessionId(cryptoRandom)));
    assert.equal(seen.size, 2000);
  });
});

describe('csrf tokens', () => {
  it('are 43 base64url characters, distinct every time', () => {
    const a = newCsrfToken(cryptoRandom);
    assert.match(a, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(newCsrfToken(cryptoRandom), a);
  });
});

describe('tokenKey and rawHeader (the fast path)', () => {
  it('tokenKey is the SHA-256 of the token as a latin1 string: the same bytes as hashToken', () => {
    for (let i = 0; i < 50; i++) {
      const t = randomBytes(32).toString('base64url');
      assert.equal(tokenKey(t), hashToken(t).toString('latin1'));
      assert.equal(Buffer.from(tokenKey(t), 'latin1').length, 32);
    }
  });

  it('rawHeader finds a header in any case, says undefined when absent and null when sent twice', () => {
    const req = { rawHeaders: ['Host', 'x', 'X-HM-Authorization', 'tok', 'x-not-user-input', 'checkSession', 'Cookie', 'a', 'cookie', 'b'] };
    assert.equal(rawHeader(req, 'x-hm-authorization'), 'tok');
    assert.equal(rawHeader(req, 'authorization'), undefined);
    assert.equal(rawHeader(req, 'cookie'), null);
    assert.equal(userActivity(rawHeader(req, 'x-not-user-input')), false);
    assert.equal(userActivity(rawHeader(req, 'absent')), true);
    assert.equal(userActivity(null), true, 'a duplicated X-NOT-USER-INPUT is user activity, as Node would join it');
  });
});
