import { describe, it, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Argon2idHasher, OWASP_ARGON2ID, type Argon2Params } from '../../src/adapters/hasher/argon2.js';
import { LocalAccountsProvider } from '../../src/adapters/identity/local/provider.js';
import { SqliteStore } from '../../src/adapters/store/sqlite/store.js';
import { caseFold } from '../../src/core/identity-key.js';
import type { PasswordHasher } from '../../src/ports/hasher.js';
import type { NewAccount } from '../../src/ports/store.js';
import { FAST_ARGON2, tempDir } from '../helpers.js';

/* Portcullis's own accounts as an identity provider, on a real SQLite file and real argon2id. */

const T0 = Date.UTC(2026, 10, 23, 9, 0, 0);
const OTHER_PARAMS: Argon2Params = { memoryKiB: 9216, iterations: 1, parallelism: 1 };

/** A hasher that counts its calls and remembers which hashes it was asked to verify. */
class CountingHasher implements PasswordHasher {
  hashes = 0;
  verified: string[] = [];
  constructor(private readonly inner: Argon2idHasher) {}
  hash(password: string) {
    this.hashes += 1;
    return this.inner.hash(password);
  }
  verify(hash: string, password: string) {
    this.verified.push(hash);
    return this.inner.verify(hash, password);
  }
  needsRehash(hash: string) {
    return this.inner.needsRehash(hash);
  }
}

function account(username: string, passwordHash: string | null, over: Partial<NewAccount> = {}): NewAccount {
  return { username, roles: ['Operator'], organizations: ['DEFAULT'], enterprise: 'HybridityAdmin', disabled: false, mustChangePassword: false, passwordHash, ...over };
}

const memoryOf = (phc: string | null | undefined) => /\$m=(\d+),/.exec(phc ?? '')?.[1];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

describe('LocalAccountsProvider', () => {
  const dir = tempDir('portcullis-local-');
  let store: SqliteStore;
  let n = 0;
  beforeEach(() => {
    n += 1;
    store = new SqliteStore({ path: join(dir.path, `local-${n}.db`), touchFlushMs: 0 });
  });
  afterEach(() => store.close());
  after(() => dir.remove());

  it('authenticates the right password as a local principal with the account data', async () => {
    const hasher = new Argon2idHasher(FAST_ARGON2);
    await store.createAccount(account('alice', await hasher.hash('Alice-Pass-1'), { roles: ['Auditor', 'Operator'], organizations: ['ORG-A'], enterprise: 'Acme', mustChangePassword: true }), T0);
    const provider = new LocalAccountsProvider(store, hasher, () => T0);
    assert.equal(provider.name, 'local');
    assert.deepEqual(await provider.authenticate('alice', 'Alice-Pass-1'), {
      ok: true,
      principal: { username: 'alice', roles: ['Auditor', 'Operator'], organizations: ['ORG-A'], enterprise: 'Acme', mustChangePassword: true, source: 'local', authServer: '127.0.0.1' },
    });
  });

  it('answers a wrong password, an unknown user and an account without password with the same invalid_credentials', async () => {
    const hasher = new Argon2idHasher(FAST_ARGON2);
    await store.createAccount(account('alice', await hasher.hash('Alice-Pass-1')), T0);
    await store.createAccount(account('nopass', null), T0);
    const provider = new LocalAccountsProvider(store, hasher, () => T0);
    const refused = { ok: false, reason: 'invalid_credentials' };
    // The caller sees the same outcome; only the core learns which account was meant (to count the failure against it).
    assert.deepEqual(await provider.authenticate('alice', 'wrong'), { ...refused, identity: { username: 'alice', source: 'local' } });
    assert.deepEqual(await provider.authenticate('Alice', 'Alice-Pass-1'), refused, 'without a name key, usernames are case-sensitive');
    assert.deepEqual(await provider.authenticate('nobody', 'Alice-Pass-1'), refused);
    assert.deepEqual(await provider.authenticate('nopass', ''), { ...refused, identity: { username: 'nopass', source: 'local' } });
    assert.deepEqual(await provider.authenticate('nopass', 'anything'), { ...refused, identity: { username: 'nopass', source: 'local' } });
  });

  it('says disabled only to someone who knows the password; a wrong password on a disabled account is invalid_credentials', async () => {
    const hasher = new Argon2idHasher(FAST_ARGON2);
    await store.createAccount(account('alice', await hasher.hash('Alice-Pass-1'), { disabled: true }), T0);
    const provider = new LocalAccountsProvider(store, hasher, () => T0);
    const identity = { username: 'alice', source: 'local' };
    assert.deepEqual(await provider.authenticate('alice', 'Alice-Pass-1'), { ok: false, reason: 'disabled', identity });
    assert.deepEqual(await provider.authenticate('alice', 'wrong'), { ok: false, reason: 'invalid_credentials', identity });
  });

  it('with a name key, finds an account under any case of its name and answers with the stored name; two accounts of one key are ambiguous', async () => {
    const hasher = new Argon2idHasher(FAST_ARGON2);
    await store.createAccount(account('alice', await hasher.hash('Alice-Pass-1')), T0);
    const provider = new LocalAccountsProvider(store, hasher, () => T0, caseFold);
    for (const typed of ['alice', 'ALICE', 'Alice', 'aLiCe']) {
      const r = await provider.authenticate(typed, 'Alice-Pass-1');
      assert.ok(r.ok, typed);
      assert.equal(r.principal.username, 'alice', 'the stored name, not the typed one');
    }
    assert.deepEqual(await provider.authenticate('ALICE', 'wrong'), { ok: false, reason: 'invalid_credentials', identity: { username: 'alice', source: 'local' } });
    assert.deepEqual(await provider.authenticate('alice@example.org', 'Alice-Pass-1'), { ok: false, reason: 'invalid_credentials' }, 'a local account has no domain');
    // Made before local names were unique by key (the store itself does not refuse it):
    await store.createAccount(account('Alice', await hasher.hash('Other-Pass-1')), T0);
    assert.equal((await provider.authenticate('ALICE', 'Alice-Pass-1')).ok, false, 'ambiguous: neither account');
    assert.equal((await provider.authenticate('alice', 'Alice-Pass-1')).ok, true, 'the exact name still finds its account');
    assert.equal((await provider.authenticate('Alice', 'Other-Pass-1')).ok, true);
  });

  it('treats a corrupt stored hash as a mismatch, not an error', async () => {
    const hasher = new Argon2idHasher(FAST_ARGON2);
    await store.createAccount(account('alice', 'not-a-phc-string'), T0);
    const provider = new LocalAccountsProvider(store, hasher, () => T0);
    assert.deepEqual(await provider.authenticate('alice', 'not-a-phc-string'), { ok: false, reason: 'invalid_credentials', identity: { username: 'alice', source: 'local' } });
  });

  it('verifies exactly one hash on every path, with the current parameters when there is no stored hash', async () => {
    const fast = new Argon2idHasher(FAST_ARGON2);
    await store.createAccount(account('alice', await fast.hash('Alice-Pass-1')), T0);
    await store.createAccount(account('nopass', null), T0);
    await store.createAccount(account('off', await fast.hash('Off-Pass-1'), { disabled: true }), T0);
    const hasher = new CountingHasher(fast);
    const provider = new LocalAccountsProvider(store, hasher, () => T0);
    await provider.warmUp();
    const hashesAfterWarmUp = hasher.hashes;
    for (const [user, pw] of [['alice', 'Alice-Pass-1'], ['alice', 'wrong'], ['nobody', 'x'], ['nopass', 'x'], ['off', 'Off-Pass-1'], ['off', 'wrong']] as const) {
      hasher.verified = [];
      await provider.authenticate(user, pw);
      assert.equal(hasher.verified.length, 1, `${user}/${pw}: one verification`);
      assert.equal(fast.needsRehash(hasher.verified[0]!), false, `${user}/${pw}: the verified hash has the current parameters`);
    }
    assert.equal(hasher.hashes, hashesAfterWarmUp, 'no hash is computed on the login path after warmUp');
  });

  it('re-hashes a hash made with other argon2 parameters at the next successful login', async () => {
    const old = new Argon2idHasher(FAST_ARGON2);
    await store.createAccount(account('alice', await old.hash('Alice-Pass-1')), T0);
    assert.equal(memoryOf((await store.getAccount('alice'))?.passwordHash), String(FAST_ARGON2.memoryKiB));
    const current = new Argon2idHasher(OTHER_PARAMS);
    const provider = new LocalAccountsProvider(store, current, () => T0 + 1234);

    assert.equal((await provider.authenticate('alice', 'Alice-Pass-1')).ok, true);
    const after = await store.getAccount('alice');
    assert.equal(memoryOf(after?.passwordHash), String(OTHER_PARAMS.memoryKiB), `stored hash ${after?.passwordHash}`);
    assert.equal(current.needsRehash(after!.passwordHash!), false);
    assert.equal(after?.updatedAt, T0 + 1234);
    assert.equal((await provider.authenticate('alice', 'Alice-Pass-1')).ok, true, 'the upgraded hash still matches the password');
    assert.equal((await provider.authenticate('alice', 'wrong')).ok, false);
  });

  it('does not re-hash at a failed login', async () => {
    const old = new Argon2idHasher(FAST_ARGON2);
    const stored = await old.hash('Alice-Pass-1');
    await store.createAccount(account('alice', stored), T0);
    const provider = new LocalAccountsProvider(store, new Argon2idHasher(OTHER_PARAMS), () => T0 + 1);
    assert.equal((await provider.authenticate('alice', 'wrong')).ok, false);
    assert.equal((await store.getAccount('alice'))?.passwordHash, stored);
  });

  it('does not re-hash a hash that already has the current parameters', async () => {
    const hasher = new Argon2idHasher(FAST_ARGON2);
    const stored = await hasher.hash('Alice-Pass-1');
    await store.createAccount(account('alice', stored), T0);
    const provider = new LocalAccountsProvider(store, hasher, () => T0 + 1);
    assert.equal((await provider.authenticate('alice', 'Alice-Pass-1')).ok, true);
    const a = await store.getAccount('alice');
    assert.equal(a?.passwordHash, stored);
    assert.equal(a?.updatedAt, T0);
  });

  describe('with the real OWASP parameters', () => {
    let owasp: Argon2idHasher;
    let provider: LocalAccountsProvider;
    before(async () => {
      owasp = new Argon2idHasher(OWASP_ARGON2ID);
    });

    it('spends about the same time on an unknown user as on a wrong password (medians of 10, ratio within 0.6..1.6)', async (t) => {
      await store.createAccount(account('alice', await owasp.hash('Alice-Pass-1')), T0);
      provider = new LocalAccountsProvider(store, owasp, () => T0);
      const unknown: number[] = [];
      const wrong: number[] = [];
      const time = async (user: string, list: number[]) => {
        const t = performance.now();
        const r = await provider.authenticate(user, 'Not-The-Password-1');
        list.push(performance.now() - t);
        assert.equal(!r.ok && r.reason, 'invalid_credentials');
      };
      // Interleaved, so drift in machine load affects both series alike.
      for (let i = 0; i < 10; i++) {
        await time('nobody-' + i, unknown);
        await time('alice', wrong);
      }
      const ratio = median(unknown) / median(wrong);
      const detail = `unknown ${median(unknown).toFixed(1)} ms, wrong password ${median(wrong).toFixed(1)} ms, ratio ${ratio.toFixed(2)}`;
      t.diagnostic(detail);
      assert.ok(median(wrong) > 1, `a wrong password costs a real argon2id verification (${detail})`);
      assert.ok(ratio >= 0.6 && ratio <= 1.6, detail);
    });
  });
});

describe('Argon2idHasher', () => {
  it('makes argon2id PHC strings with its parameters, salted differently each time', async () => {
    const h = new Argon2idHasher(FAST_ARGON2);
    const a = await h.hash('secret-password');
    const b = await h.hash('secret-password');
    assert.match(a, /^\$argon2id\$v=19\$m=8192,t=1,p=1\$/);
    assert.notEqual(a, b);
    assert.equal(await h.verify(a, 'secret-password'), true);
    assert.equal(await h.verify(a, 'secret-passwore'), false);
  });

  it('uses the OWASP parameters by default', async () => {
    assert.deepEqual(OWASP_ARGON2ID, { memoryKiB: 19456, iterations: 2, parallelism: 1 });
    assert.deepEqual(new Argon2idHasher().params, OWASP_ARGON2ID);
  });

  it('needs a rehash when any parameter differs or the string is not argon2id', async () => {
    const h = new Argon2idHasher(FAST_ARGON2);
    const own = await h.hash('pw-pw-pw-pw');
    assert.equal(h.needsRehash(own), false);
    assert.equal(new Argon2idHasher({ ...FAST_ARGON2, memoryKiB: 9216 }).needsRehash(own), true);
    assert.equal(new Argon2idHasher({ ...FAST_ARGON2, iterations: 2 }).needsRehash(own), true);
    assert.equal(new Argon2idHasher({ ...FAST_ARGON2, parallelism: 2 }).needsRehash(own), true);
    assert.equal(h.needsRehash('$2b$10$abcdefghijklmnopqrstuu'), true);
    assert.equal(h.needsRehash(''), true);
  });

  it('verifies a corrupt or foreign hash as false instead of throwing', async () => {
    const h = new Argon2idHasher(FAST_ARGON2);
    assert.equal(await h.verify('garbage', 'pw'), false);
    assert.equal(await h.verify('', 'pw'), false);
  });
});
