import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pgMigrations } from '../../src/adapters/store/postgres/migrations.js';
import { PostgresStore } from '../../src/adapters/store/postgres/store.js';
import { RedisStore } from '../../src/adapters/store/redis/store.js';
import { havePostgres, haveRedis, startPostgres, startRedis, type TestPostgres, type TestRedis } from '../servers.js';
import { runStoreContract, type StoreUnderTest } from './store.contract.js';

/*
 * The same contract suite as SQLite, unchanged, against real servers: PostgreSQL
 * holding everything, and PostgreSQL for accounts/settings/audit with Redis for
 * sessions, the per-user index and the failure counters.
 */

const pgMissing = havePostgres();
const redisMissing = haveRedis();
let pgServer: TestPostgres | undefined;
let redisServer: TestRedis | undefined;

before(async () => {
  if (!pgMissing) pgServer = await startPostgres();
  if (!redisMissing) redisServer = await startRedis();
});
after(async () => {
  await pgServer?.destroy();
  await redisServer?.destroy();
});

/** PostgreSQL for accounts, settings, audit and history; Redis for sessions and failure counters: the `sessions: redis` layout. */
async function pgPlusRedis(pgUrl: string, redisUrl: string): Promise<StoreUnderTest> {
  const openPg = () => PostgresStore.open({ url: pgUrl, touchFlushMs: 0 });
  const openRedis = () => RedisStore.open({ url: redisUrl, touchFlushMs: 0 });
  let sql = await openPg();
  let hot = await openRedis();
  return {
    accounts: sql,
    sessions: hot,
    limits: hot,
    guard: hot,
    history: sql,
    secondFactors: sql,
    settings: sql,
    audit: sql,
    flush: () => hot.flushTouches(),
    reopen: async () => {
      await Promise.all([sql.close(), hot.close()]);
      [sql, hot] = await Promise.all([openPg(), openRedis()]);
      return { accounts: sql, sessions: hot };
    },
    close: async () => {
      await Promise.all([sql.close(), hot.close()]);
    },
  };
}

if (pgMissing) {
  describe('store contract: PostgresStore', () => it('needs PostgreSQL', (t) => t.skip(pgMissing)));
} else {
  runStoreContract('PostgresStore', async () => {
    const url = await pgServer!.newDatabase();
    const open = () => PostgresStore.open({ url, touchFlushMs: 0, poolMax: 12 });
    let store = await open();
    return {
      accounts: store,
      sessions: store,
      limits: store,
      guard: store,
      history: store,
      secondFactors: store,
      settings: store,
      audit: store,
      flush: () => store.flushTouches(),
      reopen: async () => {
        await store.close();
        store = await open();
        return { accounts: store, sessions: store };
      },
      close: () => store.close(),
    };
  });
}

if (pgMissing || redisMissing) {
  describe('store contract: PostgresStore + RedisStore', () => it('needs PostgreSQL and Redis', (t) => t.skip(pgMissing ?? redisMissing)));
} else {
  runStoreContract('PostgresStore + RedisStore', async () => pgPlusRedis(await pgServer!.newDatabase(), await redisServer!.newDatabase()));
}

// The same contract through the other ways of reaching Redis that the configuration accepts.
for (const mode of ['cluster', 'sentinel'] as const) {
  if (pgMissing || redisMissing) continue;
  describe(`Redis ${mode}`, () => {
    let server: TestRedis | undefined;
    before(async () => {
      server = await startRedis({ mode });
    });
    after(async () => {
      await server?.destroy();
    });
    runStoreContract(`PostgresStore + RedisStore through redis-${mode}://`, async () => {
      const url = await server!.newDatabase();
      assert.match(url, new RegExp(`^redis-${mode}://`));
      return pgPlusRedis(await pgServer!.newDatabase(), url);
    });
  });
}

describe('shared backends: schema and durability facts', { skip: pgMissing ?? redisMissing }, () => {
  it('migrates a new PostgreSQL database once even when nodes open it together, and reports the version', async () => {
    const url = await pgServer!.newDatabase();
    const stores = await Promise.all(Array.from({ length: 4 }, () => PostgresStore.open({ url, touchFlushMs: 0 })));
    try {
      assert.deepEqual(await stores[0]!.migrate(), [pgMigrations.length, pgMigrations.length]);
      const r = await stores[0]!.pool.query('SELECT count(*)::int AS n FROM portcullis_schema');
      assert.equal(r.rows[0].n, 1);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('refuses to open a schema that is behind when told not to migrate, naming the command that fixes it', async () => {
    const url = await pgServer!.newDatabase();
    await assert.rejects(PostgresStore.open({ url, migrate: false }), /older than this Portcullis needs.*portcullis migrate/);
  });

  it('deletes expired sessions through indexes, never by reading every row', async () => {
    const s = await PostgresStore.open({ url: await pgServer!.newDatabase(), touchFlushMs: 0 });
    try {
      await s.pool.query('SET enable_seqscan = off');
      const plan = (await s.pool.query('EXPLAIN DELETE FROM sessions WHERE expires_at <= 1 OR (idle_timeout_ms > 0 AND last_accessed_at + idle_timeout_ms <= 1)')).rows.map((r) => r['QUERY PLAN']).join('\n');
      assert.match(plan, /sessions_by_expiry/);
      assert.match(plan, /sessions_by_idle_deadline/);
    } finally {
      await s.close();
    }
  });

  it('refuses a schema newer than it understands', async () => {
    const url = await pgServer!.newDatabase();
    const s = await PostgresStore.open({ url, touchFlushMs: 0 });
    await s.pool.query('UPDATE portcullis_schema SET version = 99');
    await s.close();
    await assert.rejects(PostgresStore.open({ url }), /newer than this Portcullis understands/);
  });

  it("reads the test Redis's persistence as appendfsync always", async () => {
    const r = await RedisStore.open({ url: await redisServer!.newDatabase(), touchFlushMs: 0 });
    try {
      assert.equal(await r.durability(), 'always');
    } finally {
      await r.close();
    }
  });
});

describe('TLS to PostgreSQL and Redis', { skip: pgMissing ?? redisMissing }, () => {
  let pgTls: TestPostgres | undefined;
  let redisTls: TestRedis | undefined;
  before(async () => {
    [pgTls, redisTls] = await Promise.all([startPostgres({ tls: true }), startRedis({ tls: true })]);
  });
  after(async () => {
    await Promise.all([pgTls?.destroy(), redisTls?.destroy()]);
  });

  it('connects to PostgreSQL over TLS, verifying its certificate with the configured CA', async () => {
    const store = await PostgresStore.open({ url: await pgTls!.newDatabase(), tls: { caFile: pgTls!.ca!.caFile }, touchFlushMs: 0 });
    try {
      const r = await store.pool.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
      assert.equal(r.rows[0].ssl, true, 'the connection is encrypted');
      assert.equal(await store.countAccounts(), 0);
    } finally {
      await store.close();
    }
  });

  it('refuses a PostgreSQL server whose certificate another CA signed', async () => {
    await assert.rejects(PostgresStore.open({ url: await pgTls!.newDatabase(), tls: { caFile: pgTls!.ca!.otherCaFile } }), /certificate/i);
  });

  it('connects to Redis over TLS (rediss://), verifying its certificate, and refuses another CA', async () => {
    const url = await redisTls!.newDatabase();
    assert.match(url, /^rediss:\/\//);
    const store = await RedisStore.open({ url, tls: { caFile: redisTls!.ca!.caFile }, touchFlushMs: 0 });
    try {
      await store.ping();
      assert.equal(await store.deleteSessionsOfUser('nobody'), 0);
    } finally {
      await store.close();
    }
    await assert.rejects(RedisStore.open({ url, tls: { caFile: redisTls!.ca!.otherCaFile }, connectTimeoutMs: 1000 }), /unavailable.*(certificate|self-signed)/i, 'the reason is in the message');
  });
});
