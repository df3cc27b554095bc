import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pgMigrations } from '../../src/adapters/store/postgres/migrations.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { tempDir } from '../helpers.js';
import { runCli, startNode, writeNodeConfig } from '../nodes.js';
import { havePostgres, startPostgres, type TestPostgres } from '../servers.js';

describe('configuration of the stores', () => {
  const load = (o: Record<string, unknown>) => loadConfig({ env: {}, overrides: { dataDir: '/tmp/x', ...o } });

  it('defaults to SQLite for everything', () => {
    const c = load({});
    assert.equal(c.store, 'sqlite');
    assert.equal(c.sessions, undefined);
  });

  it('refuses combinations that cannot share state, naming the key', () => {
    assert.throws(() => load({ sessions: 'redis', 'redis.url': 'redis://127.0.0.1:6379' }), (e: unknown) => e instanceof ConfigError && /sessions: sessions: redis needs store: postgres/.test(e.message));
    assert.throws(() => load({ store: 'postgres', sessions: 'sqlite', 'postgres.url': 'postgres://x@127.0.0.1/db' }), /sessions: sessions: sqlite cannot go with store: postgres/);
    assert.throws(() => load({ store: 'postgres' }), /postgres\.url: store: postgres needs postgres\.url/);
    assert.throws(() => load({ store: 'postgres', sessions: 'redis', 'postgres.url': 'postgres://x@127.0.0.1/db' }), /redis\.url: sessions: redis needs redis\.url/);
    assert.throws(() => load({ store: 'postgres', 'postgres.url': 'mysql://x' }), /postgres\.url: must be a postgres:\/\/ URL/);
    assert.throws(() => load({ store: 'postgres', sessions: 'redis', 'postgres.url': 'postgres://x@h/db', 'redis.url': 'http://x' }), /redis\.url: must be a redis/);
    assert.throws(() => load({ 'cluster.sessionCacheMs': 5000 }), /cluster\.sessionCacheMs/);
  });

  it('takes the backends from the environment', () => {
    const c = loadConfig({
      env: { PORTCULLIS_STORE: 'postgres', PORTCULLIS_SESSIONS: 'redis', PORTCULLIS_POSTGRES_URL: 'postgres://u@db:5432/p', PORTCULLIS_REDIS_URL: 'redis://cache:6379/2' },
      overrides: { dataDir: '/tmp/x' },
    });
    assert.equal(c.store, 'postgres');
    assert.equal(c.sessions, 'redis');
    assert.equal(c.postgres.url, 'postgres://u@db:5432/p');
    assert.equal(c.redis.url, 'redis://cache:6379/2');
  });
});

describe('portcullis migrate with postgres.autoMigrate: false', { skip: havePostgres() }, () => {
  const dir = tempDir('portcullis-migrate-');
  let pg: TestPostgres;
  let config: string;

  before(async () => {
    pg = await startPostgres();
    config = writeNodeConfig(dir.path, { store: 'postgres', postgres: { url: await pg.newDatabase(), autoMigrate: false } });
  });
  after(async () => {
    await pg?.destroy();
    dir.remove();
  });

  it('serve refuses an empty database and names the command; migrate brings it up; serve then starts', async () => {
    await assert.rejects(startNode(config), new RegExp(`older than this Portcullis needs \\(${pgMigrations.length}\\); run "portcullis migrate"`));
    assert.match(runCli(config, ['migrate']), new RegExp(`^postgres: schema version ${pgMigrations.length} \\(migrated from 0\\)$`, 'm'));
    assert.match(runCli(config, ['migrate']), new RegExp(`^postgres: schema version ${pgMigrations.length}$`, 'm'));
    const node = await startNode(config);
    await node.stop();
  });
});
