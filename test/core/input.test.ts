import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_PASSWORD_LENGTH,
  MAX_USERNAME_LENGTH,
  newPasswordProblem,
  normalizeUsername,
  passwordProblem,
  usernameProblem,
} from '../../src/core/input.js';

describe('usernameProblem', () => {
  it('accepts ordinary, e-mail shaped, domain-qualified and non-Latin usernames', () => {
    for (const ok of ['admin', 'Alice', 'ops@example.com', 'CORP\\jdoe', 'josé', '管理者', 'a b', 'x']) {
      assert.equal(usernameProblem(ok), null, ok);
    }
  });

  it('refuses an empty username', () => {
    assert.equal(usernameProblem(''), 'must not be empty');
  });

  it(`accepts ${MAX_USERNAME_LENGTH} characters and refuses one more`, () => {
    assert.equal(MAX_USERNAME_LENGTH, 256);
    assert.equal(usernameProblem('a'.repeat(256)), null);
    assert.match(usernameProblem('a'.repeat(257)) ?? '', /at most 256/);
  });

  it('refuses a username that is not well-formed Unicode (a lone surrogate)', () => {
    assert.match(usernameProblem('bad\ud800name') ?? '', /well-formed/);
    assert.match(usernameProblem('\udc00') ?? '', /well-formed/);
  });

  it('refuses control characters anywhere: NUL, newline, tab, DEL, C1', () => {
    for (const c of ['\u0000', '\n', '\r', '\t', '\u007f', '\u0085', '\u001b']) {
      assert.match(usernameProblem(`ali${c}ce`) ?? '', /control characters/, JSON.stringify(c));
    }
  });

  it('refuses leading or trailing white space, but not inner spaces', () => {
    assert.match(usernameProblem(' alice') ?? '', /white space/);
    assert.match(usernameProblem('alice ') ?? '', /white space/);
    assert.match(usernameProblem('alice\u00a0') ?? '', /white space/);
    assert.match(usernameProblem('\u3000alice') ?? '', /white space/);
    assert.equal(usernameProblem('alice smith'), null);
  });
});

describe('passwordProblem', () => {
  it('accepts passwords with spaces, tabs, quotes, emoji and any script', () => {
    for (const ok of ['x', ' leading and trailing ', 'tab\there', `"'\\`, 'pässwörd 🚀', '密码密码']) {
      assert.equal(passwordProblem(ok), null, ok);
    }
  });

  it('refuses an empty password', () => {
    assert.equal(passwordProblem(''), 'must not be empty');
  });

  it(`accepts ${MAX_PASSWORD_LENGTH} characters and refuses one more`, () => {
    assert.equal(MAX_PASSWORD_LENGTH, 1024);
    assert.equal(passwordProblem('p'.repeat(1024)), null);
    assert.match(passwordProblem('p'.repeat(1025)) ?? '', /at most 1024/);
  });

  it('refuses a password that is not well-formed Unicode', () => {
    assert.match(passwordProblem('secret\ud800') ?? '', /well-formed/);
  });

  it('refuses a NUL character (C strings in PAM would cut the password there)', () => {
    assert.match(passwordProblem('sec\u0000ret') ?? '', /NUL/);
  });
});

describe('normalizeUsername', () => {
  it('brings a username to NFC, so composed and decomposed spellings are one account', () => {
    assert.equal(normalizeUsername('jose\u0301'), 'jos\u00e9');
    assert.equal(normalizeUsername('jos\u00e9'), 'jos\u00e9');
  });

  it('does not change case or anything else', () => {
    assert.equal(normalizeUsername('Alice@Example.COM'), 'Alice@Example.COM');
  });
});

describe('newPasswordProblem', () => {
  it('accepts a password of exactly the minimum length and refuses one character less', () => {
    assert.equal(newPasswordProblem('12345678', 'alice', 8), null);
    assert.equal(newPasswordProblem('1234567', 'alice', 8), 'must be at least 8 characters');
  });

  it('counts characters (code points), not UTF-16 units', () => {
    assert.equal(newPasswordProblem('🚀🚀🚀🚀', 'alice', 5), 'must be at least 5 characters', '4 emoji are 4 characters, not 8');
    assert.equal(newPasswordProblem('🚀🚀🚀🚀🚀', 'alice', 5), null);
  });

  it('refuses the username as password, whatever its case or normalization', () => {
    assert.equal(newPasswordProblem('alice-smith', 'alice-smith', 8), 'must not be the same as the username');
    assert.equal(newPasswordProblem('ALICE-SMITH', 'Alice-Smith', 8), 'must not be the same as the username');
    assert.equal(newPasswordProblem('jose\u0301-admin', 'jos\u00e9-admin', 8), 'must not be the same as the username');
    assert.equal(newPasswordProblem('alice-smith2', 'alice-smith', 8), null);
  });

  it('applies the basic password rules first', () => {
    assert.equal(newPasswordProblem('', 'alice', 8), 'must not be empty');
    assert.match(newPasswordProblem('long-enough\u0000', 'alice', 8) ?? '', /NUL/);
    assert.match(newPasswordProblem('p'.repeat(1025), 'alice', 8) ?? '', /at most 1024/);
  });
});
