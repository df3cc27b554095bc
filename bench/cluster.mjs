// B6: session checks on two Portcullis nodes sharing PostgreSQL + Redis (and
// PostgreSQL alone), against one node on the embedded SQLite store, in the same run.
// Starts everything itself on 127.0.0.1: private PostgreSQL and Redis servers (the
// test suite's helpers, built into build/test), the nodes, the load.
//
//   npm run bench:cluster                  # builds src and the test helpers, then runs
//   DURATION=5 node bench/cluster.mjs      # seconds per measurement (default 10)
//
// The load is split over the two nodes (half the connections each, tokens picked at
// random from B6_SESSIONS (1000) sessions made on node A, so node B knows them only
// through the shared backend), as a load balancer would; the single node gets all the connections. On these 2 cores the two nodes,
// the backends and the load generator all share the same CPUs: the ratio shows what
// the shared backends cost per check, not what a second machine would add.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DURATION, cli, cpuMicros, fmt, freePort, load, root, start, stop } from './lib.mjs';

const CONNECTIONS = Number(process.env.CONNECTIONS ?? 50);
/** Sessions the checks pick from at random (each node's cache holds a session 500 ms: misses keep reaching the backend). */
const SESSIONS = Number(process.env.B6_SESSIONS ?? 1000);
const quietEnv = { ...process.env, PORTCULLIS_LOG_LEVEL: 'warn' };

function writeConfig(dir, extra) {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'portcullis.json');
  writeFileSync(file, JSON.stringify({ dataDir: join(dir, 'data'), accountSettings: { MaxConcurrentSessions: 0 }, log: { level: 'warn' }, ...extra }));
  return file;
}

function portcullis(configFile, args, input) {
  return execFileSync(process.execPath, [cli, ...args, '--config', configFile], { input, env: quietEnv, stdio: ['pipe', 'pipe', 'ignore'] });
}

async function serve(configFile) {
  const port = await freePort();
  const srv = await start(
    process.execPath,
    [cli, 'serve', '--config', configFile, '--plain-http', '--host', '127.0.0.1', '--port', String(port)],
    { env: quietEnv },
    (line) => /serving on (http:\/\/\S+)/.exec(line)?.[1],
    60000,
  );
  return { child: srv.child, url: srv.match };
}

async function hcxLogin(url) {
  const r = await fetch(`${url}/api/admin/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'bench', password: 'bench-password-1' }) });
  await r.arrayBuffer();
  if (r.status !== 200) throw new Error(`login failed: ${r.status}`);
  return r.headers.get('x-hm-authorization');
}

/** Checks on every node at once, `CONNECTIONS` split evenly, each request with one of `tokens` at random; returns the summed rate, worst p99 and server CPU per request. */
async function checks(nodes, tokens, duration) {
  const per = Math.max(1, Math.floor(CONNECTIONS / nodes.length));
  const pids = nodes.map((n) => n.child.pid);
  const cpu0 = pids.map(cpuMicros);
  const results = await Promise.all(nodes.map((n) => load({
        url: `${n.url}/api/admin/v1/sessions`,
        connections: per,
        requests: [{ setupRequest: (req) => ({ ...req, headers: { ...req.headers, 'x-hm-authorization': tokens[Math.floor(Math.random() * tokens.length)] } }) }],
        ...(duration ? { duration } : {}),
      })));
  const cpu = pids.map((p, i) => cpuMicros(p) - cpu0[i]).reduce((a, b) => a + b, 0);
  const total = results.reduce((a, r) => a + r.total, 0);
  return { rps: results.reduce((a, r) => a + r.rps, 0), p99: Math.max(...results.map((r) => r.p99)), cpuUs: cpu / total };
}

async function scenario(dir, extra, nodeCount) {
  const config = writeConfig(dir, extra);
  portcullis(config, ['user', 'add', 'bench', '--role', 'System Administrator', '--password-stdin'], 'bench-password-1');
  const nodes = [];
  try {
    for (let i = 0; i < nodeCount; i++) nodes.push(await serve(config));
    // Sessions made on node A only: node B knows them through the shared backend alone.
    const tokens = [];
    for (let i = 0; i < SESSIONS; i++) tokens.push(await hcxLogin(nodes[0].url));
    await checks(nodes, tokens, 2); // warm-up
    return await checks(nodes, tokens);
  } finally {
    for (const n of nodes) stop(n.child);
  }
}

/** Runs B6 and appends its rows to `rows` ([name, ratio, target, detail]). */
export async function b6(rows, workDir) {
  const serversLib = join(root, 'build', 'test', 'servers.js');
  if (!existsSync(serversLib)) throw new Error('build/test is missing: run `npx tsc -p tsconfig.test.json` (npm run bench:cluster does)');
  const { startPostgres, startRedis, havePostgres, haveRedis } = await import(pathToFileURL(serversLib).href);
  const why = havePostgres() ?? haveRedis();
  if (why) throw new Error(why);
  const pg = await startPostgres();
  const redis = await startRedis();
  try {
    const single = await scenario(join(workDir, 'sqlite'), {}, 1);
    const shared = await scenario(join(workDir, 'pg-redis'), { store: 'postgres', sessions: 'redis', postgres: { url: await pg.newDatabase() }, redis: { url: await redis.newDatabase() } }, 2);
    const pgOnly = await scenario(join(workDir, 'pg'), { store: 'postgres', postgres: { url: await pg.newDatabase() } }, 2);
    rows.push([
      'B6 checks, 2 nodes on PostgreSQL+Redis / 1 SQLite node',
      shared.rps / single.rps,
      'report',
      `${fmt(shared.rps)} vs ${fmt(single.rps)} req/s; p99 ${shared.p99}/${single.p99} ms; node CPU ${fmt(shared.cpuUs, 1)}/${fmt(single.cpuUs, 1)} µs/req`,
    ]);
    rows.push([
      'B6 checks, 2 nodes on PostgreSQL alone / 1 SQLite node',
      pgOnly.rps / single.rps,
      'report',
      `${fmt(pgOnly.rps)} req/s; p99 ${pgOnly.p99} ms; node CPU ${fmt(pgOnly.cpuUs, 1)} µs/req`,
    ]);
  } finally {
    await Promise.all([pg.destroy(), redis.destroy()]);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = [];
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-B6-'));
  const t0 = Date.now();
  try {
    await b6(rows, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`\nPortcullis B6 — ${cpus().length} cores, Node ${process.version}, ${DURATION} s per load, ${CONNECTIONS} connections in all, ${SESSIONS} sessions`);
  const w = Math.max(...rows.map((r) => r[0].length));
  console.log(`${'scenario'.padEnd(w)}  ratio  target   raw figures`);
  for (const [name, ratio, target, detail] of rows) console.log(`${name.padEnd(w)}  ${fmt(ratio, 2).padStart(7)}  ${target.padEnd(7)}  ${detail}`);
  console.log(`(${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  process.exit(0);
}
