import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { freePort, tempDir } from '../helpers.js';
import { waitPort } from '../servers.js';

/* The package as an operator gets it: npm pack, npm install -g, the systemd unit, the Dockerfile. */

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string; private?: boolean };
/** A global install compiles better-sqlite3 from source (no prebuilt binary is reachable here): minutes on a loaded machine. */
const INSTALL_TIMEOUT_MS = 15 * 60_000;

function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PORTCULLIS_') && !k.startsWith('npm_')) env[k] = v;
  return env;
}

function healthz(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/healthz', rejectUnauthorized: false, timeout: 5000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

describe('the npm package', () => {
  const dir = tempDir('portcullis-pack-');
  let tarball = '';
  let installed = '';
  after(() => dir.remove());

  it('is publishable and packs the built CLI, the PAM helper source and its build script, without a compiled helper or source maps', () => {
    assert.equal(pkg.private, undefined, 'not private: npm pack and install -g are the way it ships');
    const r = spawnSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir.path], { cwd: ROOT, encoding: 'utf8', env: cleanEnv(), timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    const [info] = JSON.parse(r.stdout) as [{ filename: string; files: { path: string }[] }];
    tarball = join(dir.path, info.filename);
    assert.equal(info.filename, `${pkg.name}-${pkg.version}.tgz`);
    const files = info.files.map((f) => f.path);
    for (const f of ['dist/cli.js', 'dist/server.js', 'dist/metrics/prometheus.js', 'pam/portcullis', 'scripts/build-pam-helper.sh', 'src/adapters/identity/pam/helper.c', 'ops/systemd/portcullis.service', 'Dockerfile']) {
      assert.ok(files.includes(f), `${f} is in the package`);
    }
    assert.ok(!files.some((f) => f.startsWith('dist/bin/') || f.endsWith('.map') || f.startsWith('test/') || f.startsWith('build/')), 'no compiled helper, maps or tests');
  });

  it('installs with npm install -g into a fresh prefix, builds the PAM helper (or says how), and serves HTTPS', { timeout: INSTALL_TIMEOUT_MS + 60_000 }, async () => {
    assert.ok(tarball, 'packed');
    const prefix = join(dir.path, 'prefix');
    // The npm cache is reused (--prefer-offline): only what it lacks is fetched.
    const inst = spawnSync('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', '--allow-scripts=portcullis,better-sqlite3', '--foreground-scripts', tarball], {
      encoding: 'utf8',
      env: cleanEnv(),
      timeout: INSTALL_TIMEOUT_MS,
    });
    assert.equal(inst.status, 0, `npm install -g failed:\n${inst.stderr}\n${inst.stdout}`);
    installed = join(prefix, 'bin', 'portcullis');
    assert.ok(existsSync(installed), 'the portcullis command is linked into the prefix');
    const helper = join(prefix, 'lib', 'node_modules', 'portcullis', 'dist', 'bin', 'portcullis-pam-helper');
    if (existsSync('/usr/include/security/pam_appl.h')) assert.ok(existsSync(helper), 'the PAM helper was compiled at install');
    else assert.match(inst.stderr, /the PAM helper was not built: .*\n.*\n.*fix: apt-get install gcc libpam0g-dev/);

    const data = join(dir.path, 'data');
    const port = await freePort();
    const child = spawn(installed, ['serve', '--data-dir', data, '--port', String(port)], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (err += s));
    try {
      await waitPort(port, () => child, 'the installed portcullis', () => err);
      assert.equal(await healthz(port), 200);
      const until = Date.now() + 5000;
      while (!out.includes('Portcullis is serving') && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      assert.match(out, /username: admin\n\s+password: \S{16,}/, 'the first start prints the one-time administrator password');
      assert.match(out, new RegExp(`Portcullis is serving on https://127\\.0\\.0\\.1:${port}`));
    } finally {
      child.kill('SIGTERM');
    }
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 0, err);
  });

  it('ships a systemd unit that systemd-analyze verify accepts without a warning', { skip: spawnSync('systemd-analyze', ['--version']).status !== 0 ? 'systemd-analyze is not installed' : false }, () => {
    const unit = readFileSync(join(ROOT, 'ops', 'systemd', 'portcullis.service'), 'utf8');
    for (const line of ['DynamicUser=yes', 'ProtectSystem=strict', 'StateDirectory=portcullis', 'NoNewPrivileges=yes', 'CapabilityBoundingSet=', 'ExecReload=/bin/kill -HUP $MAINPID']) {
      assert.ok(unit.split('\n').includes(line), `the unit has ${line}`);
    }
    assert.match(unit, /^ExecStart=\/usr\/bin\/portcullis serve --data-dir \/var\/lib\/portcullis$/m);
    // verify needs the command to exist: point it at the installed one (or node itself when the install test did not run).
    const exec = installed || process.execPath;
    const file = join(dir.path, 'portcullis.service');
    writeFileSync(file, unit.replace('ExecStart=/usr/bin/portcullis', `ExecStart=${exec}`));
    const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim() + r.stdout.trim(), '', 'no warnings');
    const dropIn = readFileSync(join(ROOT, 'ops', 'systemd', 'portcullis-pam.conf'), 'utf8');
    assert.match(dropIn, /^SupplementaryGroups=shadow$/m);
  });

  it('ships a multi-stage, non-root Dockerfile with a health check on /healthz', () => {
    const df = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    assert.ok((df.match(/^FROM /gm) ?? []).length >= 2, 'multi-stage');
    assert.match(df, /^FROM \S+ AS build$/m);
    assert.match(df, /^USER node$/m);
    assert.match(df, /^HEALTHCHECK .*healthcheck\.mjs/m);
    assert.match(readFileSync(join(ROOT, 'ops', 'docker', 'healthcheck.mjs'), 'utf8'), /path: '\/healthz'/);
    const lastStage = df.slice(df.lastIndexOf('\nFROM '));
    assert.ok(!/g\+\+|libpam0g-dev|npm ci/.test(lastStage), 'the run stage has no toolchain');
    // One build of dist/ everywhere (the console's assets and the command line's bundle too): the image's, npm's, the scripts'.
    const buildStage = df.slice(0, df.lastIndexOf('\nFROM '));
    assert.match(buildStage, /^RUN npm run build:code /m, "the image's build stage runs build:code");
    const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    for (const name of ['build', 'prepack']) assert.match(scripts[name]!, /^npm run --silent build:code\b/, `npm run ${name} builds with build:code`);
    for (const f of ['lib.sh', 'test.sh']) assert.match(readFileSync(join(ROOT, 'scripts', f), 'utf8'), /npm run --silent build:code/, `scripts/${f} builds with build:code`);
  });

  it('builds the image and reports healthy where a Docker daemon runs', { skip: spawnSync('docker', ['info'], { timeout: 20_000 }).status !== 0 ? 'no Docker daemon on this machine: the image is not built here' : false, timeout: 20 * 60_000 }, async () => {
    const tag = `portcullis-test:${process.pid}`;
    const b = spawnSync('docker', ['build', '-t', tag, ROOT], { encoding: 'utf8', timeout: 15 * 60_000 });
    assert.equal(b.status, 0, b.stderr);
    const run = spawnSync('docker', ['run', '-d', '--rm', tag], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    const id = run.stdout.trim();
    try {
      const until = Date.now() + 120_000;
      let health = '';
      while (Date.now() < until && health !== 'healthy') {
        health = spawnSync('docker', ['inspect', '-f', '{{.State.Health.Status}}', id], { encoding: 'utf8' }).stdout.trim();
        await new Promise((r) => setTimeout(r, 2000));
      }
      assert.equal(health, 'healthy');
      assert.equal(spawnSync('docker', ['exec', id, 'id', '-u'], { encoding: 'utf8' }).stdout.trim(), '1000');
    } finally {
      spawnSync('docker', ['rm', '-f', id]);
      spawnSync('docker', ['rmi', tag]);
    }
  });
});
