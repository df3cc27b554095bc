import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanEnv } from '../nodes.js';
import { tempDir } from '../helpers.js';

/* `portcullis access test` and `portcullis proxy-config`, run as the built command. */

const cli = fileURLToPath(new URL('../../../dist/cli.js', import.meta.url));

describe('portcullis access test', () => {
  const dir = tempDir();
  let config = '';
  const run = (...args: string[]) => {
    const r = spawnSync(process.execPath, [cli, '--config', config, ...args], { env: cleanEnv(), encoding: 'utf8', timeout: 60_000, input: '' });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };

  before(() => {
    config = join(dir.path, 'portcullis.json');
    writeFileSync(
      config,
      JSON.stringify({
        dataDir: join(dir.path, 'data'),
        argon2: { memoryKiB: 8192, iterations: 1 },
        log: { level: 'warn' },
        gateway: {
          rules: [
            { name: 'health', path: '/healthz', access: 'anonymous' },
            { name: 'firmware', host: '*.example.com', path: '/firmware/**', methods: ['POST'], access: 'roles', roles: ['System Administrator'] },
            { name: 'internal', path: '/internal/**', access: 'deny' },
            { name: 'app', host: 'app.example.com', access: 'authenticated' },
          ],
        },
      }),
    );
    const add = spawnSync(process.execPath, [cli, '--config', config, 'user', 'add', 'bob', '--role', 'Operator', '--password-stdin'], { env: cleanEnv(), input: 'Bob-Pass-123', encoding: 'utf8', timeout: 60_000 });
    assert.equal(add.status, 0, add.stderr);
  });
  after(() => dir.remove());

  it('names the rule that decides and why, and exits 1 on a refusal', () => {
    const r = run('access', 'test', 'https://app.example.com/firmware/update', '-X', 'POST', '--user', 'bob');
    assert.equal(r.code, 1, r.err);
    assert.match(r.out, /rule: +rule 2 "firmware" \(host \*\.example\.com; path \/firmware\/\*\*; methods POST\) -> roles: System Administrator/);
    assert.match(r.out, /user: +bob \(local account; roles: Operator\)/);
    assert.match(r.out, /decision: +deny \(403\): bob does not hold any of System Administrator/);
  });
  it('allows with the roles given, anonymous paths, and says what a session needs', () => {
    assert.equal(run('access', 'test', 'https://app.example.com/firmware/x', '-X', 'post', '--roles', 'System Administrator').code, 0);
    const anon = run('access', 'test', 'https://any.host/healthz');
    assert.equal(anon.code, 0);
    assert.match(anon.out, /rule 1 "health".*\n.*allow, without a session/);
    const need = run('access', 'test', 'https://app.example.com/inventory');
    assert.match(need.out, /needs any live session/);
  });
  it('shows the default deny and the normalised path', () => {
    const none = run('access', 'test', 'https://other.example.org/');
    assert.equal(none.code, 1);
    assert.match(none.out, /none of the 4 rules matches: default deny/);
    const dots = run('access', 'test', 'https://app.example.com/healthz/../internal/x');
    assert.equal(dots.code, 1);
    assert.match(dots.out, /path: +\/internal\/x \(as the rules read it\)/);
    assert.match(dots.out, /rule 3 "internal"/);
  });
  it('refuses a bad URL and an unknown user with exit 2', () => {
    assert.equal(run('access', 'test', 'not a url').code, 2);
    const r = run('access', 'test', 'https://app.example.com/', '--user', 'nobody');
    assert.equal(r.code, 2);
    assert.match(r.err, /no local account "nobody" and no live session/);
  });
});

describe('portcullis proxy-config', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, [cli, 'proxy-config', ...args], { env: cleanEnv(), encoding: 'utf8', timeout: 60_000 });
  const base = ['--listen', '8080', '--upstream', 'https://10.0.0.5:8443', '--portcullis', 'http://127.0.0.1:9443'];
  it('prints each proxy\'s file, overwriting every identity header', () => {
    for (const proxy of ['nginx', 'caddy', 'traefik', 'envoy']) {
      const r = run(proxy, ...base);
      assert.equal(r.status, 0, r.stderr);
      for (const h of ['Remote-User', 'Remote-Groups', 'Remote-Name', 'Remote-Email']) assert.ok(r.stdout.toLowerCase().includes(h.toLowerCase()), `${proxy}: ${h}`);
    }
    assert.match(run('nginx', ...base).stdout, /proxy_set_header Remote-User \$portcullis_remote_user;/);
    assert.match(run('nginx', ...base).stdout, /proxy_ssl_verify on;/);
    assert.match(run('nginx', ...base, '--insecure-upstream-tls').stdout, /proxy_ssl_verify off;/);
    assert.match(run('caddy', ...base, '--insecure-upstream-tls').stdout, /tls_insecure_skip_verify/);
    assert.match(run('traefik', ...base).stdout, /address: "http:\/\/127\.0\.0\.1:9443\/portcullis\/auth\/forward"/);
    assert.match(run('envoy', ...base).stdout, /path_prefix: \/portcullis\/auth\/ext-authz/);
  });
  it('refuses bad arguments with exit 2 and a message', () => {
    for (const [args, re] of [
      [['haproxy', ...base], /unknown proxy "haproxy"/],
      [['nginx', '--listen', 'eighty', '--upstream', 'http://a:1', '--portcullis', 'http://b:2'], /--listen must be a port/],
      [['nginx', '--listen', '80', '--upstream', 'http://a:1/app', '--portcullis', 'http://b:2'], /--upstream must be an origin only/],
      [['nginx', '--listen', '80', '--upstream', 'ftp://a', '--portcullis', 'http://b:2'], /--upstream must be http/],
    ] as [string[], RegExp][]) {
      const r = run(...args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re);
    }
  });
});
