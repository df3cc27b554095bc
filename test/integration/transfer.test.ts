import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers.js';
import { CLI, admin, cleanEnv, hcxCheck, hcxLogin, lxcaCheck, lxcaLogin, runCli, startNode, writeNodeConfig } from '../nodes.js';
import { havePostgres, haveRedis, startPostgres, startRedis, type TestPostgres, type TestRedis } from '../servers.js';

/*
 * `portcullis export` / `import` between the embedded store and the shared ones:
 * accounts (password hashes), settings and live sessions move from SQLite to
 * PostgreSQL + Redis and back, and a token issued before the move still works after.
 */

const missing = havePostgres() ?? haveRedis();
const pw = () => `Pw-${randomBytes(9).toString('base64url')}`;

function cli(configFile: string, args: string[], input?: string) {
  return spawnSync(process.execPath, [CLI, ...args, '--config', configFile], { env: cleanEnv(), input, encoding: 'utf8', timeout: 60_000 });
}

describe('export and import between SQLite and PostgreSQL + Redis', { skip: missing }, () => {
  const dir = tempDir('portcullis-transfer-');
  let pg: TestPostgres;
  let redis: TestRedis;
  let sqliteConfig: string;
  let sharedConfig: string;
  let backConfig: string;
  const root = { username: 'root', password: pw() };
  const alice = { username: 'alice', password: pw() };
  let hcxToken = '';
  let lxcaCookie = '';

  before(async () => {
    [pg, redis] = await Promise.all([startPostgres(), startRedis()]);
    for (const d of ['sqlite', 'shared', 'back']) mkdirSync(join(dir.path, d));
    sqliteConfig = writeNodeConfig(join(dir.path, 'sqlite'), {});
    sharedConfig = writeNodeConfig(join(dir.path, 'shared'), {
      store: 'postgres',
      sessions: 'redis',
      postgres: { url: await pg.newDatabase() },
      redis: { url: await redis.newDatabase() },
    });
    backConfig = writeNodeConfig(join(dir.path, 'back'), {});

    runCli(sqliteConfig, ['user', 'add', root.username, '--role', 'System Administrator', '--password-stdin'], root.password);
    runCli(sqliteConfig, ['user', 'add', alice.username, '--role', 'System Administrator', '--password-stdin'], alice.password);
    runCli(sqliteConfig, ['settings', 'set', 'LockoutTime=45']);
    const node = await startNode(sqliteConfig);
    try {
      const h = await hcxLogin(node, alice.username, alice.password);
      const l = await lxcaLogin(node, alice.username, alice.password);
      assert.equal(h.status, 200, h.body);
      assert.equal(l.status, 200, l.body);
      hcxToken = h.token;
      lxcaCookie = l.cookie;
    } finally {
      await node.stop();
    }
  });

  after(async () => {
    await Promise.all([pg?.destroy(), redis?.destroy()]);
    dir.remove();
  });

  it('exports to a 0600 file holding hashes, never a token or a password', () => {
    const file = join(dir.path, 'export.json');
    const r = cli(sqliteConfig, ['export', '--output', file]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /exported 2 account\(s\), 2 live session\(s\)/);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const text = readFileSync(file, 'utf8');
    assert.ok(!text.includes(hcxToken) && !text.includes(alice.password), 'no bearer token and no password in the export');
    assert.ok(text.includes('$argon2id$'), 'password hashes are exported');
    assert.equal(cli(sqliteConfig, ['export', '--output', file]).status, 1, 'never overwrites an existing file');
  });

  it('imports into PostgreSQL + Redis: the old token, cookie, password and settings all work on a node there', async () => {
    const r = cli(sharedConfig, ['import', '--input', join(dir.path, 'export.json')]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /imported into postgres \+ redis: 2 account\(s\) \(0 already there\), 2 live session\(s\)/);
    const node = await startNode(sharedConfig);
    try {
      assert.equal((await hcxCheck(node, hcxToken)).status, 200, 'a token issued by the SQLite node');
      assert.equal((await lxcaCheck(node, lxcaCookie)).status, 200, 'a cookie issued by the SQLite node');
      const login = await hcxLogin(node, root.username, root.password);
      assert.equal(login.status, 200, 'the password hash moved');
      const settings = await admin(node, login.token, 'GET', '/settings');
      assert.equal(settings.json().settings.LockoutTime, 45);
    } finally {
      await node.stop();
    }
  });

  it('refuses to import into a store that holds accounts, and with --merge keeps what is there', () => {
    const again = cli(sharedConfig, ['import', '--input', join(dir.path, 'export.json')]);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /already holds 2 account\(s\): use --merge/);
    const merged = cli(sharedConfig, ['import', '--merge', '--input', join(dir.path, 'export.json')]);
    assert.equal(merged.status, 0, merged.stderr);
    assert.match(merged.stdout, /0 account\(s\) \(2 already there\), 0 live session\(s\) \(2 expired or already there\)/);
  });

  it('refuses a file that is not an export, naming what is wrong, and writes nothing', () => {
    const bad = join(dir.path, 'bad.json');
    writeFileSync(bad, JSON.stringify({ format: 'portcullis-export', version: 1, exportedAt: 1, from: 'x', accounts: [{ username: 'x' }], settings: {}, sessions: [] }));
    const r = cli(backConfig, ['import', '--input', bad]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /not a Portcullis export.*accounts\.0/);
    const notJson = cli(backConfig, ['import'], 'hello');
    assert.equal(notJson.status, 1);
    assert.match(notJson.stderr, /not JSON/);
  });

  it('moves back from PostgreSQL + Redis to a fresh SQLite data directory', async () => {
    const out = cli(sharedConfig, ['export']);
    assert.equal(out.status, 0, out.stderr);
    const r = cli(backConfig, ['import'], out.stdout);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /imported into sqlite .*: 2 account\(s\)/);
    const node = await startNode(backConfig);
    try {
      assert.equal((await hcxCheck(node, hcxToken)).status, 200);
      assert.equal((await hcxLogin(node, alice.username, alice.password)).status, 200);
    } finally {
      await node.stop();
    }
  });
});
