import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { caseFold, foldName, identityOf, looksQualified, migrationFold, parseIdentity } from '../../src/core/identity-key.js';
import { planCounters, planSources } from '../../src/adapters/store/identity-migration.js';

/* The naming rules of README "Identities", without servers. */

describe('foldName: the pre-bind failure key', () => {
  const domains = ['vsphere.local', 'VSPHERE'];

  it('gives every case and domain spelling of one person one key', () => {
    const spellings = ['alice', 'ALICE', 'Alice', 'aLiCe', 'alice@vsphere.local', 'ALICE@VSPHERE.LOCAL', 'Alice@Vsphere.Local', 'VSPHERE.LOCAL\\alice', 'vsphere.local\\ALICE', 'VSPHERE\\alice', 'alice@vsphere'];
    for (const s of spellings) assert.equal(foldName(s, domains), 'alice', s);
  });

  it('keeps a domain that is not configured, and an empty part, in the key', () => {
    assert.equal(foldName('alice@elsewhere.org', domains), 'alice@elsewhere.org');
    assert.equal(foldName('ELSEWHERE\\Alice', domains), 'elsewhere\\alice');
    assert.equal(foldName('alice@', domains), 'alice@');
    assert.equal(foldName('@vsphere.local', domains), '@vsphere.local');
    assert.equal(foldName('alice@vsphere.local', []), 'alice@vsphere.local', 'no domains configured: nothing is reduced');
  });

  it('folds Unicode case fully and composes accents (NFC) before and after', () => {
    assert.equal(caseFold('STRASSE'), caseFold('straße'));
    assert.equal(caseFold('ẞ'), 'ss');
    assert.equal(caseFold('ΟΔΥΣΣΕΥΣ'), caseFold('οδυσσευς'.replace(/σ$/, 'ς')));
    assert.equal(caseFold('Jose\u0301'), caseFold('JOSÉ'), 'decomposed and composed é are one');
    assert.equal(foldName('ÉLODIE@VSPHERE.LOCAL', domains), 'élodie');
  });
});

describe('canonical identities', () => {
  it('names local accounts bare and every other source qualified, so two sources never merge', () => {
    assert.equal(identityOf({ username: 'alice', source: 'local' }), 'alice');
    assert.equal(identityOf({ username: 'alice', source: 'ldap' }), 'ldap:alice');
    assert.equal(identityOf({ username: 'alice', source: 'pam' }), 'pam:alice');
    assert.equal(identityOf({ username: 'ldap:alice', source: 'local' }), 'local:ldap:alice', 'an old local account named like a qualified identity');
    assert.equal(looksQualified('ldap:alice'), true);
    assert.equal(looksQualified('team:alice'), false);
  });

  it('reads the names an administrator gives', () => {
    const sources = ['local', 'ldap', 'pam'];
    assert.equal(parseIdentity('ldap:alice', sources).identity, 'ldap:alice');
    assert.equal(parseIdentity('local:alice', sources).identity, 'alice');
    assert.equal(parseIdentity('alice', sources).identity, 'alice');
    assert.equal(parseIdentity('team:alice', sources).identity, 'team:alice', 'not a source: a local name');
  });
});

describe('the upgrade plan for counters and trusted sources kept under typed names', () => {
  it('migrationFold merges at least what foldName merges, whatever the configured domains', () => {
    for (const s of ['Alice', 'ALICE@VSPHERE.LOCAL', 'VSPHERE\\alice', 'alice@corp.example']) assert.equal(migrationFold(s), 'alice', s);
  });

  it('merges counters that meet under one key: every failure, the earliest start, the longest lock; leaves folded ones alone', () => {
    const plan = planCounters([
      { subject: 'Alice', count: 5, firstAt: 100, lockedUntil: 0 },
      { subject: 'ALICE', count: 20, firstAt: 50, lockedUntil: 9000 },
      { subject: 'alice@vsphere.local', count: 3, firstAt: 70, lockedUntil: 0 },
      { subject: 'bob', count: 2, firstAt: 10, lockedUntil: 0 },
    ]);
    assert.deepEqual(plan.remove.sort(), ['ALICE', 'Alice', 'alice@vsphere.local']);
    assert.deepEqual(plan.put, [{ subject: 'alice', count: 28, firstAt: 50, lockedUntil: 9000 }]);
  });

  it('keeps the latest trusted login per folded name and source', () => {
    const plan = planSources([
      { username: 'Alice', source: '192.0.2.1', at: 5 },
      { username: 'alice', source: '192.0.2.1', at: 9 },
      { username: 'ALICE', source: '192.0.2.2', at: 7 },
      { username: 'bob', source: '192.0.2.1', at: 1 },
    ]);
    assert.deepEqual(
      plan.put.sort((a, b) => a.source.localeCompare(b.source)),
      [
        { username: 'alice', source: '192.0.2.1', at: 9 },
        { username: 'alice', source: '192.0.2.2', at: 7 },
      ],
    );
    assert.equal(plan.remove.length, 3);
  });
});
