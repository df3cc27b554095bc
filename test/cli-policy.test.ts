import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RequestContext } from '../src/core/sessions.js';
import type { Portcullis } from '../src/service.js';
import { FAST_ARGON2, tempDir, withPortcullis } from './helpers.js';

/* The policy commands of the built CLI: user unlock, settings get|set, audit. */

const CLI = join(fileURLToPath(new URL('../../', import.meta.url)), 'dist', 'cli.js');

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PORTCULLIS_')) env[k] = v;
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('portcullis user unlock, settings and audit commands', () => {
  const dir = tempDir('portcullis-cli-policy-');
  const configFile = join(dir.path, 'portcullis.yaml');
  const g = ['--config', configFile];

  before(() => {
    writeFileSync(
      configFile,
      `dataDir: ${JSON.stringify(join(dir.path, 'data'))}\nargon2:\n  memoryKiB: ${FAST_ARGON2.memoryKiB}\n  iterations: ${FAST_ARGON2.iterations}\n`,
    );
  });
  after(() => dir.remove());

  const withCore = <T>(fn: (p: Portcullis) => Promise<T>) => withPortcullis(configFile, fn);

  const login = (password: string, i: number) =>
    withCore(async (p) => {
      const ctx: RequestContext = { requestId: `r${i}`, clientAddress: `198.51.100.${i + 1}`, dialect: 'lxca' };
      return (await p.sessions.login({ provider: 'local', username: 'dave', password, requiredRoles: 'any' }, ctx)).kind;
    });

  it('unlocks an account locked by 20 failures, so its owner can log in again', async () => {
    await withCore((p) => p.accounts.create({ username: 'dave', password: 'Dave-Pass-1', roles: ['Operator'] }));
    for (let i = 0; i < 20; i++) assert.equal(await login(`wrong-${i}`, i), 'invalid_credentials');
    assert.equal(await login('Dave-Pass-1', 50), 'invalid_credentials', 'locked');
    assert.match((await run(['user', 'list', ...g])).stdout, /^dave\s+Operator\s+DEFAULT\s+enabled,locked\s/m);
    const r = await run(['user', 'unlock', 'dave', ...g]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'account dave unlocked\n');
    assert.equal(await login('Dave-Pass-1', 50), 'ok');
    const again = await run(['user', 'unlock', 'dave', ...g]);
    assert.equal(again.stdout, 'account dave was not locked; its failure count was reset\n');
  });

  it('prints the settings, changes them and refuses bad values with a clear message', async () => {
    const get = await run(['settings', 'get', '--json', ...g]);
    assert.equal(get.code, 0, get.stderr);
    assert.equal(JSON.parse(get.stdout).MaxConcurrentSessions, 3);
    const set = await run(['settings', 'set', 'MaxConcurrentSessions=5', 'LockoutTime=30', ...g]);
    assert.equal(set.code, 0, set.stderr);
    assert.equal(set.stdout, 'LockoutTime: 60 -> 30\nMaxConcurrentSessions: 3 -> 5\n');
    const table = await run(['settings', 'get', ...g]);
    assert.match(table.stdout, /^MaxConcurrentSessions\s+5\s+sessions \(0 = unlimited\)$/m);
    const bad = await run(['settings', 'set', 'MaximumLoginFailures=500', ...g]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /MaximumLoginFailures must be between 1 and 100/);
    const malformed = await run(['settings', 'set', 'LockoutTime', ...g]);
    assert.equal(malformed.code, 2);
    assert.match(malformed.stderr, /is not NAME=WHOLE_NUMBER/);
    assert.equal((await withCore((p) => p.settings.get())).MaxConcurrentSessions, 5);
  });

  it('prints the audit trail, filtered by user, kind and since, as JSON without any password', async () => {
    const r = await run(['audit', '--user', 'dave', '--kind', 'account.', '--json', ...g]);
    assert.equal(r.code, 0, r.stderr);
    const events = JSON.parse(r.stdout) as { kind: string; username: string; dialect: string }[];
    assert.deepEqual(events.map((e) => e.kind), ['account.lock', 'account.unlock', 'account.unlock']);
    assert.equal(events[1]!.dialect, 'cli');
    const all = await run(['audit', ...g]);
    assert.match(all.stdout, /^TIME\s+KIND\s+USER\s+CLIENT\s+DIALECT\s+REQUEST\s+DETAIL$/m);
    assert.match(all.stdout, /login\.failure\s+dave\s+198\.51\.100\.1\s+lxca\s+r0\s+\{"reason":"invalid_credentials"/);
    assert.ok(!all.stdout.includes('Dave-Pass-1') && !all.stdout.includes('wrong-1'));
    const future = await run(['audit', '--since', '2999-01-01T00:00:00Z', '--json', ...g]);
    assert.deepEqual(JSON.parse(future.stdout), []);
    const bad = await run(['audit', '--since', 'yesterday', ...g]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--since must be an ISO 8601 time/);
  });
});
