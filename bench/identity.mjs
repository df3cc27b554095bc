// Identity-source benchmarks (issue 4). Starts everything itself on 127.0.0.1:
// a private slapd seeded like vsphere.local, a temporary OS account, and
// `portcullis serve --plain-http` with PAM and LDAP configured.
//
//   npm run bench:identity                 # builds src and the test helpers, then runs
//   DURATION=5 node bench/identity.mjs     # seconds per measurement (default 10)
//
// I1  LDAP logins through HCX authType vsphere (search + bind + nested groups +
//     session commit), with pooled connections; and the provider alone, pooled vs
//     a fresh connection per login.
// I2  Session checks/s while a flood of failing PAM logins runs, vs without it.
//
// Needs root (useradd, pam_unix reads /etc/shadow), slapd and the PAM helper
// (bash scripts/check.sh installs and builds them). Every child is killed at the end.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DURATION, cli, fmt, freePort, load, percentile, root, start } from './lib.mjs';

const slapdLib = join(root, 'build', 'test', 'identity', 'slapd.js');
if (!existsSync(slapdLib)) {
  console.error('build/test is missing: run `npx tsc -p tsconfig.test.json` (npm run bench:identity does)');
  process.exit(2);
}
const { startSlapd, seedVsphere, PEOPLE, SERVICE_DN, SERVICE_PW, SUFFIX } = await import(slapdLib);
const { LdapProvider } = await import(join(root, 'dist', 'adapters', 'identity', 'ldap', 'provider.js'));

const cleanups = [];
const rows = [];

// ---- setup: slapd, an OS account, a config, the server ----
const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-identity-'));
cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
const slapd = await startSlapd();
cleanups.push(() => slapd.destroy());
await seedVsphere(slapd);

const osUser = `pcb${process.pid % 100000}`;
const osGroup = `pcbg${process.pid % 100000}`;
const osPassword = 'Bench-Os-Pass-1';
spawnSync('groupadd', [osGroup]);
execFileSync('useradd', ['-M', '-s', '/usr/sbin/nologin', '-G', osGroup, osUser]);
execFileSync('chpasswd', { input: `${osUser}:${osPassword}\n` });
cleanups.push(() => {
  spawnSync('userdel', ['-f', osUser]);
  spawnSync('groupdel', [osGroup]);
});
let installedPam = false;
if (!existsSync('/etc/pam.d/portcullis')) {
  copyFileSync(join(root, 'pam', 'portcullis'), '/etc/pam.d/portcullis');
  installedPam = true;
}
cleanups.push(() => installedPam && rmSync('/etc/pam.d/portcullis', { force: true }));

const ldap = {
  url: slapd.url,
  bindDN: SERVICE_DN,
  bindPassword: SERVICE_PW,
  userBase: `ou=Users,${SUFFIX}`,
  groups: { base: `ou=Groups,${SUFFIX}` },
  groupRoles: { Administrators: ['System Administrator'], HcxOps: ['Enterprise Administrator'] },
};
const config = join(dir, 'portcullis.json');
writeFileSync(
  config,
  JSON.stringify({
    dataDir: join(dir, 'data'),
    log: { level: 'warn' },
    // The bench logs the same users in thousands of times: no per-user session limit.
    accountSettings: { MaxConcurrentSessions: 0 },
    hcx: { authTypes: { local: 'pam', vsphere: 'ldap', builtin: 'local' } },
    identity: { ldap, pam: { groupRoles: { [osGroup]: ['System Administrator'] }, maxConcurrent: 4, maxQueue: 1000, timeoutMs: 60000, ...(process.env.PAM_NICE ? { nice: Number(process.env.PAM_NICE) } : {}) } },
  }),
);
execFileSync(process.execPath, [cli, '--config', config, 'user', 'add', 'bench', '--role', 'System Administrator', '--password-stdin'], { input: 'bench-password-1' });
const port = await freePort();
const srv = await start(process.execPath, [cli, '--config', config, 'serve', '--plain-http', '--port', String(port)], { env: { ...process.env } }, (l) =>
  /serving on (http:\/\/\S+)/.exec(l)?.[1],
);
const url = srv.match;

async function login(body) {
  const r = await fetch(`${url}/api/admin/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  await r.arrayBuffer();
  return r;
}

try {
  // ---- I1: LDAP logins over HTTP ----
  process.stderr.write('I1 LDAP logins…\n');
  const conc = Number(process.env.LOGIN_CONNECTIONS ?? 8);
  const ok = await login({ authType: 'vsphere', username: 'bob', password: PEOPLE.bob.password });
  if (ok.status !== 200) throw new Error(`LDAP login failed: ${ok.status}`);
  const ldapBody = JSON.stringify({ authType: 'vsphere', username: 'bob', password: PEOPLE.bob.password });
  const post = { method: 'POST', headers: { 'content-type': 'application/json' } };
  await load({ url: `${url}/api/admin/v1/sessions`, ...post, body: ldapBody, connections: conc, duration: 2 });
  const i1 = await load({ url: `${url}/api/admin/v1/sessions`, ...post, body: ldapBody, connections: conc });
  const builtinBody = JSON.stringify({ authType: 'builtin', username: 'bench', password: 'bench-password-1' });
  const i1b = await load({ url: `${url}/api/admin/v1/sessions`, ...post, body: builtinBody, connections: conc });
  rows.push(['I1 HCX vsphere (LDAP) logins', `${fmt(i1.rps)} /s`, `p50 ${i1.p50} ms, p99 ${i1.p99} ms, ${conc} connections; nested groups (3 levels), session committed (synchronous=FULL)`]);
  rows.push(['I1 for scale: built-in (argon2id) logins', `${fmt(i1b.rps)} /s`, `p50 ${i1b.p50} ms, p99 ${i1b.p99} ms`]);

  // ---- I1b: the provider alone, pooled vs fresh connections ----
  const providerOpts = (poolSize) => ({
    transport: { urls: [slapd.url], startTls: false, ca: undefined, connectTimeoutMs: 3000, timeoutMs: 5000 },
    poolSize,
    timeoutMs: 5000,
    bindDN: SERVICE_DN,
    bindPassword: SERVICE_PW,
    userBase: `ou=Users,${SUFFIX}`,
    userScope: 'sub',
    userFilter: '(&(objectClass=inetOrgPerson)(uid={user}))',
    groups: { mode: 'search', base: `ou=Groups,${SUFFIX}`, filter: '(|(member={dn})(uniqueMember={dn}))', nestedDepth: 3, maxGroups: 500 },
    disabledWhen: [],
    mapping: { groupRoles: ldap.groupRoles, groupOrganizations: {}, defaultOrganizations: ['DEFAULT'] },
    enterprise: 'HybridityAdmin',
  });
  const runProvider = async (fresh, ms) => {
    const pooled = fresh ? undefined : new LdapProvider(providerOpts(4));
    const lat = [];
    const until = performance.now() + ms;
    const worker = async () => {
      while (performance.now() < until) {
        const p = pooled ?? new LdapProvider(providerOpts(1));
        const t = performance.now();
        const o = await p.check('bob', PEOPLE.bob.password);
        lat.push(performance.now() - t);
        if (!o.ok) throw new Error('provider login failed');
        if (!pooled) p.close();
      }
    };
    await Promise.all(Array.from({ length: conc }, worker));
    pooled?.close();
    lat.sort((a, b) => a - b);
    return { rate: lat.length / (ms / 1000), p50: percentile(lat, 0.5), p99: percentile(lat, 0.99), opened: pooled?.stats };
  };
  const pooled = await runProvider(false, DURATION * 1000);
  const fresh = await runProvider(true, DURATION * 1000);
  rows.push(['I1 LDAP provider, pooled connections', `${fmt(pooled.rate)} /s`, `p50 ${fmt(pooled.p50, 2)} ms, p99 ${fmt(pooled.p99, 2)} ms; connections opened: ${pooled.opened.search.opened} search + ${pooled.opened.binds.opened} bind`]);
  rows.push(['I1 LDAP provider, new connection per login', `${fmt(fresh.rate)} /s`, `p50 ${fmt(fresh.p50, 2)} ms, p99 ${fmt(fresh.p99, 2)} ms; reuse gains ×${fmt(pooled.rate / fresh.rate, 2)}`]);

  // ---- I2: session checks during a PAM failure flood ----
  process.stderr.write('I2 checks during a PAM failure flood…\n');
  const good = await login({ authType: 'local', username: osUser, password: osPassword });
  if (good.status !== 200) throw new Error(`PAM login failed: ${good.status}`);
  const b = await login({ authType: 'builtin', username: 'bench', password: 'bench-password-1' });
  const token = b.headers.get('x-hm-authorization');
  const checkOpts = { url: `${url}/api/admin/v1/sessions`, headers: { 'x-hm-authorization': token }, connections: 50 };
  // Local (argon2id) logins run beside the checks, in both phases: the flood must not slow them either.
  const localLogins = {
    url: `${url}/api/admin/v1/sessions`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ authType: 'builtin', username: 'bench', password: 'bench-password-1' }),
    connections: 2,
  };
  await load({ ...checkOpts, duration: 2 });
  const [quiet, quietLogins] = await Promise.all([load(checkOpts), load(localLogins)]);
  let stopFlood = false;
  let failures = 0;
  let floodErrors = 0;
  const floodBody = JSON.stringify({ authType: 'local', username: osUser, password: 'Wrong-Pass-1' });
  const flooder = async () => {
    while (!stopFlood) {
      const r = await fetch(`${url}/api/admin/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: floodBody });
      await r.arrayBuffer();
      if (r.status === 401) failures++;
      else floodErrors++;
    }
  };
  const floodStart = performance.now();
  const flood = Promise.all(Array.from({ length: 32 }, flooder));
  await new Promise((r) => setTimeout(r, 500));
  const [during, duringLogins] = await Promise.all([load(checkOpts), load(localLogins)]);
  stopFlood = true;
  await flood;
  const floodRate = failures / ((performance.now() - floodStart) / 1000);
  rows.push(['I2 session checks, quiet', `${fmt(quiet.rps)} /s`, `p50 ${quiet.p50} ms, p99 ${quiet.p99} ms (50 connections)`]);
  rows.push([
    'B5 check p99, PAM flood / quiet',
    fmt(during.p99 / quiet.p99, 2),
    `target <= 1.20; ${during.p99} vs ${quiet.p99} ms; local logins beside them: p99 ${duringLogins.p99} vs ${quietLogins.p99} ms (ratio ${fmt(duringLogins.p99 / quietLogins.p99, 2)}), ${fmt(duringLogins.rps)} vs ${fmt(quietLogins.rps)} /s`,
  ]);
  rows.push([
    'I2 session checks during PAM failure flood',
    `${fmt(during.rps)} /s`,
    `p50 ${during.p50} ms, p99 ${during.p99} ms; ratio to quiet ${fmt(during.rps / quiet.rps, 2)}; flood: 32 clients, ${fmt(floodRate)} PAM failures/s through 4 helpers${floodErrors ? `, ${floodErrors} non-401` : ''}`,
  ]);
} finally {
  srv.child.kill('SIGTERM');
  for (const c of cleanups.reverse()) await c();
}

console.log(`\nPortcullis identity benchmarks — ${cpus().length} cores, Node ${process.version}, ${DURATION} s per load`);
const w = Math.max(...rows.map((r) => r[0].length));
for (const [name, v, detail] of rows) console.log(`${name.padEnd(w)}  ${v.padStart(9)}  ${detail}`);
process.exit(0);
