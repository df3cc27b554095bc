import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { createServer } from 'node:net';
import Database from 'better-sqlite3';
import { migrations } from '../src/adapters/store/sqlite/migrations.js';
import { SqliteStore } from '../src/adapters/store/sqlite/store.js';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RequestContext } from '../src/core/sessions.js';
import { DATABASE_FILE, type Portcullis } from '../src/service.js';
import { FAST_ARGON2, tempDir, withPortcullis } from './helpers.js';

/* The built command line (dist/cli.js), run as a user would run it. */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'dist', 'cli.js');
const RUN_TIMEOUT_MS = 20_000;
const CTX: RequestContext = { requestId: 'cli-test', clientAddress: '192.0.2.55', dialect: 'lxca' };
/** A line of a JavaScript stack trace. */
const STACK = /^\s+at .+(:\d+:\d+\)?|\(native\))$/m;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const running = new Set<ChildProcess>();

function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PORTCULLIS_')) env[k] = v;
  return { ...env, ...extra };
}

/** Runs the CLI to completion (killed after RUN_TIMEOUT_MS), feeding `input` on stdin. */
function run(args: string[], opts: { input?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: cleanEnv(opts.env), stdio: ['pipe', 'pipe', 'pipe'] });
    running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const ms = opts.timeoutMs ?? RUN_TIMEOUT_MS;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`portcullis ${args.join(' ')} did not finish within ${ms} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, ms);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    // 'close' comes after the exit and after the last output of both streams.
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(opts.input ?? '');
  });
}

function ok(r: Run, what: string) {
  assert.equal(r.code, 0, `${what} exits 0\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
}

/** A failure a person can act on: non-zero exit, the message on stderr, no stack trace. */
function failsClearly(r: Run, message: RegExp, code?: number) {
  assert.notEqual(r.code, 0, `exits non-zero\nstdout:\n${r.stdout}`);
  if (code !== undefined) assert.equal(r.code, code);
  assert.match(r.stderr, message);
  assert.doesNotMatch(r.stderr, STACK, 'no stack trace');
}

after(() => {
  for (const c of running) c.kill('SIGKILL');
});

describe('portcullis user and session commands', () => {
  const dir = tempDir('portcullis-cli-');
  const dataDir = join(dir.path, 'data');
  const configFile = join(dir.path, 'portcullis.yaml');
  const g = ['--config', configFile];

  before(() => {
    writeFileSync(configFile, `dataDir: ${JSON.stringify(dataDir)}\nargon2:\n  memoryKiB: ${FAST_ARGON2.memoryKiB}\n  iterations: ${FAST_ARGON2.iterations}\n`);
  });
  after(() => dir.remove());

  const withCore = <T>(fn: (p: Portcullis) => Promise<T>) => withPortcullis(configFile, fn);

  const login = (username: string, password: string) =>
    withCore(async (p) => {
      const r = await p.sessions.login({ provider: 'local', username, password, requiredRoles: 'any' }, CTX);
      return r.kind === 'ok' ? { id: r.session.id, token: r.token, csrf: r.session.csrf } : null;
    });

  /** The accounts as stored, read in this process (quicker than another CLI run, for checks). */
  const accountsNow = () => withCore(async (p) => (await p.accounts.list()) as unknown as Record<string, unknown>[]);

  /** The live sessions, read in this process. */
  const sessionsNow = (username?: string) =>
    withCore(async (p) => (await p.sessions.listSessions(username === undefined ? undefined : { username })).map((s) => ({ id: s.id, username: s.username })));

  async function sessionsJson(args: string[] = []): Promise<Record<string, unknown>[]> {
    const r = await run(['session', 'list', '--json', ...g, ...args]);
    ok(r, 'session list --json');
    return JSON.parse(r.stdout) as Record<string, unknown>[];
  }

  describe('user add', () => {
    it('creates an account from a password piped on stdin, printing neither the password nor its hash', async () => {
      const r = await run(['user', 'add', 'bob', '--role', 'System Administrator', '--password-stdin', ...g], { input: 'Bob-Pass-123\n' });
      ok(r, 'user add');
      assert.equal(r.stdout, 'created account bob\n');
      assert.ok(!`${r.stdout}${r.stderr}`.includes('Bob-Pass-123'));
      assert.ok(!`${r.stdout}${r.stderr}`.includes('$argon2'));
      assert.ok(await login('bob', 'Bob-Pass-123'), 'the piped password (without its newline) logs in');
    });

    it('takes several roles and organizations, an enterprise and --must-change', async () => {
      const r = await run(
        ['user', 'add', 'carol', '-r', 'Auditor', '--role', 'Operator', '-o', 'ORG-A', '--org', 'ORG-B', '--enterprise', 'Acme', '--must-change', '--password-stdin', ...g],
        { input: 'Carol-Pass-1' },
      );
      ok(r, 'user add');
      const carol = (await accountsNow()).find((a) => a.username === 'carol');
      assert.deepEqual(carol?.roles, ['Auditor', 'Operator']);
      assert.deepEqual(carol?.organizations, ['ORG-A', 'ORG-B']);
      assert.equal(carol?.enterprise, 'Acme');
      assert.equal(carol?.mustChangePassword, true);
    });

    it('refuses a taken username with exit 1 and a message naming it', async () => {
      const r = await run(['user', 'add', 'bob', '--password-stdin', ...g], { input: 'Other-Pass-1' });
      failsClearly(r, /an account named "bob" already exists/, 1);
      assert.ok(await login('bob', 'Bob-Pass-123'), 'the existing account is intact');
    });

    it('refuses a password shorter than the minimum with the rule in the message', async () => {
      failsClearly(await run(['user', 'add', 'dave', '--password-stdin', ...g], { input: 'short' }), /password must be at least 8 characters/, 1);
      assert.ok(!(await accountsNow()).some((a) => a.username === 'dave'));
    });

    it('refuses an invalid username with the rule in the message', async () => {
      failsClearly(await run(['user', 'add', ' dave', '--password-stdin', ...g], { input: 'Dave-Pass-1' }), /username must not start or end with white space/, 1);
    });

    it('without --password-stdin and without a terminal, exits 2 and says to pipe the password', async () => {
      failsClearly(await run(['user', 'add', 'erin', ...g], { input: 'Erin-Pass-1' }), /--password-stdin/, 2);
      assert.ok(!(await accountsNow()).some((a) => a.username === 'erin'));
    });
  });

  describe('user list', () => {
    it('--json prints every account without its password hash, with hasPassword', async () => {
      const r = await run(['user', 'list', '--json', ...g]);
      ok(r, 'user list --json');
      assert.ok(!r.stdout.includes('$argon2'), 'no hash in the output');
      const list = JSON.parse(r.stdout) as Record<string, unknown>[];
      assert.deepEqual(list.map((a) => a.username), ['bob', 'carol']);
      const bob = list[0]!;
      assert.equal('passwordHash' in bob, false);
      assert.equal(bob.hasPassword, true);
      assert.deepEqual(bob.roles, ['System Administrator']);
      assert.equal(bob.disabled, false);
      assert.equal(typeof bob.createdAt, 'number');
    });

    it('prints a table with a header and one line per account', async () => {
      const r = await run(['user', 'list', ...g]);
      ok(r, 'user list');
      const lines = r.stdout.trimEnd().split('\n');
      assert.match(lines[0]!, /^USERNAME\s+ROLES\s+ORGANIZATIONS\s+STATE\s+CREATED$/);
      assert.equal(lines.length, 3);
      assert.match(lines[2]!, /^carol\s+Auditor,Operator\s+ORG-A,ORG-B\s+enabled,must-change-password\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    });
  });

  describe('user disable, enable, passwd and delete', () => {
    it("disable marks the account disabled and ends its sessions; the right password no longer logs in", async () => {
      assert.ok(await login('carol', 'Carol-Pass-1'));
      assert.equal((await sessionsNow('carol')).length, 1);
      const r = await run(['user', 'disable', 'carol', ...g]);
      ok(r, 'user disable');
      assert.match(r.stdout, /account carol disabled; its sessions were ended/);
      assert.equal((await accountsNow()).find((a) => a.username === 'carol')?.disabled, true);
      assert.deepEqual(await sessionsNow('carol'), []);
      assert.equal(await login('carol', 'Carol-Pass-1'), null);
    });

    it('enable lets the account log in again', async () => {
      const r = await run(['user', 'enable', 'carol', ...g]);
      ok(r, 'user enable');
      assert.match(r.stdout, /account carol enabled/);
      assert.equal((await accountsNow()).find((a) => a.username === 'carol')?.disabled, false);
      assert.ok(await login('carol', 'Carol-Pass-1'));
    });

    it('passwd sets the password from stdin and ends the sessions; the old password stops working', async () => {
      const before = await login('carol', 'Carol-Pass-1');
      assert.ok(before);
      const r = await run(['user', 'passwd', 'carol', '--password-stdin', ...g], { input: 'Carol-New-Pass-2\n' });
      ok(r, 'user passwd');
      assert.match(r.stdout, /password of carol changed; its sessions were ended/);
      assert.ok(!`${r.stdout}${r.stderr}`.includes('Carol-New-Pass-2'));
      assert.deepEqual(await sessionsNow('carol'), []);
      assert.equal(await login('carol', 'Carol-Pass-1'), null);
      assert.ok(await login('carol', 'Carol-New-Pass-2'));
      assert.equal((await accountsNow()).find((a) => a.username === 'carol')?.mustChangePassword, false);
    });

    it('passwd --must-change requires a change at the next login', async () => {
      ok(await run(['user', 'passwd', 'carol', '--must-change', '--password-stdin', ...g], { input: 'Carol-New-Pass-3' }), 'user passwd --must-change');
      assert.equal((await accountsNow()).find((a) => a.username === 'carol')?.mustChangePassword, true);
    });

    it('passwd refuses a password that breaks the rules and keeps the old one', async () => {
      failsClearly(await run(['user', 'passwd', 'carol', '--password-stdin', ...g], { input: 'short' }), /password must be at least 8 characters/, 1);
      assert.ok(await login('carol', 'Carol-New-Pass-3'));
    });

    it('disable, enable, passwd and delete of an unknown account exit 1 naming it', async () => {
      const commands = [['user', 'disable', 'nobody'], ['user', 'enable', 'nobody'], ['user', 'delete', 'nobody'], ['user', 'passwd', 'nobody', '--password-stdin']];
      const runs = await Promise.all(commands.map((args) => run([...args, ...g], { input: 'Nobody-Pass-1' })));
      for (const r of runs) failsClearly(r, /no account named "nobody"/, 1);
    });

    it('delete removes the account and its sessions', async () => {
      assert.ok(await login('carol', 'Carol-New-Pass-3'));
      const r = await run(['user', 'delete', 'carol', ...g]);
      ok(r, 'user delete');
      assert.match(r.stdout, /account carol deleted/);
      assert.deepEqual((await accountsNow()).map((a) => a.username), ['bob']);
      assert.deepEqual(await sessionsNow('carol'), []);
      assert.equal(await login('carol', 'Carol-New-Pass-3'), null);
    });
  });

  describe('session list and revoke', () => {
    let s1: { id: string; token: string; csrf: string };
    let s2: { id: string; token: string; csrf: string };
    let f1: { id: string; token: string; csrf: string };

    before(async () => {
      const r = await run(['user', 'add', 'frank', '--role', 'Operator', '--password-stdin', ...g], { input: 'Frank-Pass-1' });
      ok(r, 'user add frank');
      // Start from no sessions: the tests above logged bob in to check his password.
      await withCore(async (p) => p.sessions.revokeUserSessions('bob', CTX, 'test'));
      s1 = (await login('bob', 'Bob-Pass-123'))!;
      await new Promise((resolve) => setTimeout(resolve, 5));
      s2 = (await login('bob', 'Bob-Pass-123'))!;
      await new Promise((resolve) => setTimeout(resolve, 5));
      f1 = (await login('frank', 'Frank-Pass-1'))!;
      assert.ok(s1 && s2 && f1);
    });

    it('--json lists live sessions oldest first, with no token, hash or csrf', async () => {
      const r = await run(['session', 'list', '--json', ...g]);
      ok(r, 'session list --json');
      for (const s of [s1, s2, f1]) {
        assert.ok(!r.stdout.includes(s.token), 'no token');
        assert.ok(!r.stdout.includes(s.csrf), 'no csrf');
      }
      const list = JSON.parse(r.stdout) as Record<string, unknown>[];
      assert.deepEqual(list.map((s) => s.id), [s1.id, s2.id, f1.id]);
      assert.deepEqual(Object.keys(list[0]!), ['id', 'username', 'clientAddress', 'dialect', 'authSource', 'created', 'lastAccessed', 'expires']);
      assert.equal(list[0]!.username, 'bob');
      assert.equal(list[0]!.clientAddress, CTX.clientAddress);
      assert.equal(list[0]!.dialect, 'lxca');
      assert.equal(list[0]!.authSource, 'local');
      assert.match(String(list[0]!.created), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    });

    it("--user lists only that user's sessions", async () => {
      assert.deepEqual((await sessionsJson(['--user', 'frank'])).map((s) => s.id), [f1.id]);
      assert.deepEqual((await sessionsJson(['-u', 'bob'])).map((s) => s.id), [s1.id, s2.id]);
      assert.deepEqual(await sessionsJson(['--user', 'nobody']), []);
    });

    it('prints a table without --json', async () => {
      const r = await run(['session', 'list', ...g]);
      ok(r, 'session list');
      const lines = r.stdout.trimEnd().split('\n');
      assert.match(lines[0]!, /^ID\s+USER\s+CLIENT\s+DIALECT\s+SOURCE\s+CREATED\s+LAST ACCESSED\s+EXPIRES$/);
      assert.equal(lines.length, 4);
      assert.ok(lines[1]!.startsWith(s1.id));
    });

    it('revoke <id> ends that session only', async () => {
      const r = await run(['session', 'revoke', s1.id, ...g]);
      ok(r, 'session revoke');
      assert.equal(r.stdout, `session ${s1.id} ended\n`);
      assert.deepEqual((await sessionsNow()).map((s) => s.id), [s2.id, f1.id]);
    });

    it('revoke of an unknown or already ended id exits 1 saying so', async () => {
      failsClearly(await run(['session', 'revoke', s1.id, ...g]), new RegExp(`no live session with id ${s1.id}`), 1);
      failsClearly(await run(['session', 'revoke', 'no-such-session', ...g]), /no live session with id no-such-session/, 1);
    });

    it("revoke --user ends every session of that user and says how many", async () => {
      const extra = await login('frank', 'Frank-Pass-1');
      assert.ok(extra);
      const r = await run(['session', 'revoke', '--user', 'frank', ...g]);
      ok(r, 'session revoke --user');
      assert.equal(r.stdout, 'ended 2 session(s) of frank\n');
      assert.deepEqual((await sessionsNow()).map((s) => s.id), [s2.id]);
    });

    it('revoke needs exactly one of an id and --user (exit 2)', async () => {
      failsClearly(await run(['session', 'revoke', ...g]), /give either a session id or --user <username>/, 2);
      failsClearly(await run(['session', 'revoke', s2.id, '--user', 'bob', ...g]), /give either a session id or --user <username>/, 2);
      assert.deepEqual((await sessionsNow()).map((s) => s.id), [s2.id], 'nothing was revoked');
    });
  });
});

describe('portcullis --version', () => {
  it('prints the package version and exits 0', async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = await run([flag]);
      ok(r, flag);
      assert.equal(r.stdout.trim(), version);
      assert.equal(r.stderr, '');
    }
  });
});

describe('portcullis --help', { concurrency: true }, () => {
  const commands = [
    [],
    ['serve'],
    ['user'],
    ['user', 'add'],
    ['user', 'passwd'],
    ['user', 'list'],
    ['user', 'disable'],
    ['user', 'enable'],
    ['user', 'delete'],
    ['session'],
    ['session', 'list'],
    ['session', 'revoke'],
  ];
  for (const c of commands) {
    it(`portcullis ${[...c, '--help'].join(' ')} prints its usage and exits 0`, async () => {
      const r = await run([...c, '--help']);
      ok(r, `${c.join(' ')} --help`);
      assert.match(r.stdout, /^Usage: portcullis/m);
      if (c.length > 0) assert.match(r.stdout, new RegExp(`^Usage: portcullis ${c.join(' ')}`, 'm'));
      assert.equal(r.stderr, '');
    });
  }
});

describe('portcullis bad usage', { concurrency: true }, () => {
  const dir = tempDir('portcullis-cli-usage-');
  after(() => dir.remove());

  it('an unknown command exits non-zero naming it, with usage and no stack trace', async () => {
    const r = await run(['frobnicate', '--data-dir', dir.path]);
    failsClearly(r, /unknown command 'frobnicate'/);
    assert.match(r.stderr, /Usage: portcullis/);
  });

  it('a missing argument exits non-zero naming it', async () => {
    failsClearly(await run(['user', 'add', '--data-dir', dir.path]), /missing required argument 'username'/);
  });

  it('an unknown option exits non-zero naming it', async () => {
    failsClearly(await run(['user', 'list', '--bogus', '--data-dir', dir.path]), /unknown option '--bogus'/);
  });

  it('an option without its value exits non-zero naming it', async () => {
    failsClearly(await run(['user', 'add', 'x', '--role']), /option '-r, --role <role>' argument missing/);
  });
});

describe('portcullis serve with invalid configuration', { concurrency: true }, () => {
  const dir = tempDir('portcullis-cli-config-');
  after(() => dir.remove());
  const dataDir = join(dir.path, 'data');

  it('PORTCULLIS_PORT=99999 stops serve with a message naming listen.port', async () => {
    const r = await run(['serve', '--data-dir', dataDir, '--plain-http'], { env: { PORTCULLIS_PORT: '99999' } });
    failsClearly(r, /listen\.port/, 1);
    assert.doesNotMatch(r.stdout, /serving on/);
  });

  it('a YAML file with listen.port: "x" stops serve with a message naming listen.port and the file', async () => {
    const file = join(dir.path, 'bad-port.yaml');
    writeFileSync(file, 'listen:\n  port: "x"\n');
    const r = await run(['serve', '--config', file, '--data-dir', dataDir, '--plain-http']);
    failsClearly(r, /listen\.port/, 1);
    assert.match(r.stderr, /bad-port\.yaml/);
    assert.doesNotMatch(r.stdout, /serving on/);
  });

  it('--port with a non-number stops serve with a message naming listen.port', async () => {
    failsClearly(await run(['serve', '--port', 'abc', '--data-dir', dataDir, '--plain-http']), /listen\.port/, 1);
  });

  it('a misspelt key in the file stops serve with a message naming it', async () => {
    const file = join(dir.path, 'typo.yaml');
    writeFileSync(file, 'listen:\n  prot: 9443\n');
    failsClearly(await run(['serve', '--config', file, '--data-dir', dataDir, '--plain-http']), /listen.*prot/, 1);
  });

  it('a file that is not YAML stops serve with a message naming the file', async () => {
    const file = join(dir.path, 'broken.yaml');
    writeFileSync(file, 'listen: [unclosed\n');
    failsClearly(await run(['serve', '--config', file, '--data-dir', dataDir, '--plain-http']), /broken\.yaml.*not valid YAML/, 1);
  });

  it('a config file that does not exist stops serve with a message naming it', async () => {
    failsClearly(await run(['serve', '--config', join(dir.path, 'missing.yaml'), '--data-dir', dataDir]), /cannot read config file .*missing\.yaml/, 1);
  });
});

describe('portcullis in an unusable environment', { concurrency: true }, () => {
  const dir = tempDir('portcullis-cli-env-');
  after(() => dir.remove());

  it('a --data-dir that cannot be a directory exits 1 naming the path, without a stack trace', async () => {
    const file = join(dir.path, 'a-file');
    writeFileSync(file, 'not a directory');
    failsClearly(await run(['user', 'list', '--data-dir', join(file, 'data')]), /a-file/, 1);
  });

  it('a database written by a newer Portcullis stops serve and the user commands with that message, without a stack trace', async () => {
    const dataDir = join(dir.path, 'newer');
    new SqliteStore({ path: join(dataDir, DATABASE_FILE), touchFlushMs: 0 }).close();
    const db = new Database(join(dataDir, DATABASE_FILE));
    db.pragma(`user_version = ${migrations.length + 1}`);
    db.close();
    failsClearly(await run(['user', 'list', '--data-dir', dataDir]), /newer than this Portcullis understands/, 1);
    const r = await run(['serve', '--data-dir', dataDir, '--plain-http', '--host', '127.0.0.1', '--port', '0']);
    failsClearly(r, /newer than this Portcullis understands/, 1);
    assert.doesNotMatch(r.stdout, /serving on/);
  });

  it('serve on a port already in use exits 1 naming the address, without a stack trace', async () => {
    const blocker = createServer();
    blocker.listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const addr = blocker.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    try {
      const r = await run(['serve', '--data-dir', join(dir.path, 'busy'), '--plain-http', '--host', '127.0.0.1', '--port', String(port)]);
      failsClearly(r, new RegExp(`127\\.0\\.0\\.1:${port}`), 1);
      assert.match(r.stderr, /in use/);
      assert.doesNotMatch(r.stdout, /serving on/);
    } finally {
      blocker.close();
    }
  });
});
