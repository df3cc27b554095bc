// B7's load generator, run as its own process (pinned apart from the server by bench/flood.mjs).
//
//   node bench/flood-load.mjs attack <port> <seconds> <accounts> <sources> <connsPerSource>
//     credential stuffing: `sources` attacker addresses 127.0.1.1–127.0.4.250 (the client
//     sockets are bound to them), each holding `connsPerSource` HTTPS keep-alive connections,
//     each sending a login guess as soon as the previous answer came (Retry-After ignored).
//     Every account's guess list has its real password at place 30, beyond the lock bound (20);
//     a guess refused with 503 is sent again later (it was not checked).
//     Prints "ramped" once every connection is open, then runs `seconds` + 1 more.
//   node bench/flood-load.mjs prime <port> 0 <accounts>
//     each real user logs in once from its address and out again (now a known client);
//     prints a session token made from the checker's address for the checks.
//   node bench/flood-load.mjs users <port> <seconds> <accounts> <checkToken>
//     real users: user i logs in once a second from its own known address 127.0.9.(i+1)
//     (no retry: a 503 is a failed login, as most clients report it), checks its session and
//     logs out; one client checks a session every 10 ms from 127.0.9.250 (p99 of those).
//
// Loopback only, bounded in time; prints one JSON line when done. Server certificate not
// verified (the service's self-signed one).
import { request } from 'node:https';
import { Agent } from 'node:https';
import { connect } from 'node:tls';

const [role, portArg, secondsArg, accountsArg, a5, a6] = process.argv.slice(2);
const port = Number(portArg);
const seconds = Number(secondsArg);
const accounts = Number(accountsArg);
let until = Date.now() + seconds * 1000;
const realPassword = (i) => `Real-Pass-${i}-x7`;

if (role === 'attack') await attack(Number(a5), Number(a6));
else if (role === 'users') await users(a5);
else if (role === 'prime') await prime();
else throw new Error(`unknown role ${role}`);

function attackerAddress(i) {
  return `127.0.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`;
}

async function attack(sources, perSource) {
  const out = { answered: 0, byStatus: {}, guessesSucceeded: 0, connectErrors: 0, closed: 0 };
  const conns = [];
  // Each real account's guess list is walked in order, at most PER_ACCOUNT guesses in flight (more would only be
  // refused), a guess refused with 503 (not checked) sent again first: the real password is reached only after
  // REAL_AT - 1 checked guesses on that account. Connections with no real account free guess names from a
  // breach list that do not exist here (checked all the same, against a decoy hash).
  const REAL_AT = 30;
  const PER_ACCOUNT = 4;
  const nextPlace = new Array(accounts).fill(0);
  const inFlight = new Array(accounts).fill(0);
  const retry = Array.from({ length: accounts }, () => []);
  let turn = 0;
  let stuffed = 0;
  const post = (username, password) => {
    const body = JSON.stringify({ username, password });
    return `POST /api/admin/v1/sessions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`;
  };
  const next = () => {
    for (let k = 0; k < accounts; k++) {
      const account = turn++ % accounts;
      if (inFlight[account] >= PER_ACCOUNT) continue;
      inFlight[account]++;
      retry[account].sort((x, y) => y - x);
      const place = retry[account].length ? retry[account].pop() : nextPlace[account]++ % 40;
      const password = place === REAL_AT ? realPassword(account) : `guess-${place}-${account}`;
      return { account, place, req: post(`user${account}`, password) };
    }
    const n = stuffed++;
    return { account: -1, place: -1, req: post(`breach${n % 5000}`, `leaked-${n}`) };
  };
  const open = (i) =>
    new Promise((resolve) => {
      const s = connect({ host: '127.0.0.1', port, localAddress: attackerAddress(i), rejectUnauthorized: false });
      let buf = '';
      let sent;
      const send = () => {
        sent = next();
        s.write(sent.req);
      };
      s.setEncoding('latin1');
      s.on('secureConnect', () => {
        send();
        resolve();
      });
      s.on('data', (d) => {
        buf += d;
        for (;;) {
          const end = buf.indexOf('\r\n\r\n');
          if (end < 0) return;
          const head = buf.slice(0, end);
          const len = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
          if (buf.length < end + 4 + len) return;
          buf = buf.slice(end + 4 + len);
          const status = head.slice(9, 12);
          out.answered++;
          out.byStatus[status] = (out.byStatus[status] ?? 0) + 1;
          if (status === '200') out.guessesSucceeded++;
          if (sent.account >= 0) {
            inFlight[sent.account]--;
            if (status === '503') retry[sent.account].push(sent.place);
          }
          if (Date.now() < until) send();
          else s.end();
        }
      });
      s.on('error', () => {
        out.connectErrors++;
        resolve();
      });
      s.on('close', () => out.closed++);
      conns.push(s);
    });
  // Ramp the connections up over about two seconds (their TLS handshakes are not the flood being measured).
  const t0 = Date.now();
  for (let c = 0; c < perSource; c++) {
    for (let i = 0; i < sources; i += 50) {
      await Promise.all(Array.from({ length: Math.min(50, sources - i) }, (_, k) => open(i + k)));
    }
  }
  const rampMs = Date.now() - t0;
  until = Date.now() + (seconds + 1) * 1000;
  console.log('ramped');
  const counted0 = out.answered;
  const tCount = Date.now();
  await new Promise((r) => setTimeout(r, Math.max(0, until - Date.now())));
  const countedSeconds = (Date.now() - tCount) / 1000;
  await new Promise((r) => setTimeout(r, 300));
  for (const s of conns) s.destroy();
  console.log(JSON.stringify({ ...out, rampMs, attemptsPerSecond: (out.answered - counted0) / countedSeconds, connections: conns.length }));
}

function call(agent, method, path, headers, body) {
  return new Promise((resolve) => {
    const t = performance.now();
    const h = body ? { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : headers;
    const req = request({ host: '127.0.0.1', port, method, path, agent, headers: h, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, ms: performance.now() - t }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, headers: {}, ms: performance.now() - t }));
    req.end(body);
  });
}

async function prime() {
  for (let i = 0; i < accounts; i++) {
    const agent = new Agent({ keepAlive: false, localAddress: `127.0.9.${i + 1}`, rejectUnauthorized: false });
    const r = await call(agent, 'POST', '/api/admin/v1/sessions', {}, JSON.stringify({ username: `user${i}`, password: realPassword(i) }));
    if (r.status !== 200) throw new Error(`prime login of user${i}: ${r.status}`);
    await call(agent, 'DELETE', '/api/admin/v1/sessions', { 'x-hm-authorization': r.headers['x-hm-authorization'] });
  }
  const agent = new Agent({ keepAlive: false, localAddress: '127.0.9.250', rejectUnauthorized: false });
  const r = await call(agent, 'POST', '/api/admin/v1/sessions', {}, JSON.stringify({ username: 'user0', password: realPassword(0) }));
  if (r.status !== 200) throw new Error(`checker login: ${r.status}`);
  console.log(r.headers['x-hm-authorization']);
}

async function users(checkToken) {
  const out = { attempts: 0, ok: 0, byStatus: {}, errors: 0, loginMs: [], checks: [] };
  const agents = Array.from({ length: accounts }, (_, i) => new Agent({ keepAlive: true, maxSockets: 1, localAddress: `127.0.9.${i + 1}`, rejectUnauthorized: false }));
  const user = async (i) => {
    // Spread the users over the second.
    await new Promise((r) => setTimeout(r, (i * 1000) / accounts));
    while (Date.now() < until - 1000) {
      const started = Date.now();
      out.attempts++;
      const r = await call(agents[i], 'POST', '/api/admin/v1/sessions', {}, JSON.stringify({ username: `user${i}`, password: realPassword(i) }));
      out.byStatus[r.status] = (out.byStatus[r.status] ?? 0) + 1;
      out.loginMs.push(r.ms);
      if (r.status === 200) {
        out.ok++;
        const token = r.headers['x-hm-authorization'];
        await call(agents[i], 'GET', '/api/admin/v1/sessions', { 'x-hm-authorization': token });
        await call(agents[i], 'DELETE', '/api/admin/v1/sessions', { 'x-hm-authorization': token });
      } else if (r.status === 0) out.errors++;
      await new Promise((res) => setTimeout(res, Math.max(0, started + 1000 - Date.now())));
    }
  };
  const checker = async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1, localAddress: '127.0.9.250', rejectUnauthorized: false });
    while (Date.now() < until - 1000) {
      const r = await call(agent, 'GET', '/api/admin/v1/sessions', { 'x-hm-authorization': checkToken });
      out.checks.push(r.status === 200 ? r.ms : Infinity);
      await new Promise((res) => setTimeout(res, 10));
    }
  };
  await Promise.all([...Array.from({ length: accounts }, (_, i) => user(i)), checker()]);
  const sorted = (a) => [...a].sort((x, y) => x - y);
  const pct = (a, p) => (a.length ? a[Math.min(a.length - 1, Math.floor(a.length * p))] : NaN);
  const checks = sorted(out.checks);
  const logins = sorted(out.loginMs);
  console.log(
    JSON.stringify({
      attempts: out.attempts,
      ok: out.ok,
      byStatus: out.byStatus,
      errors: out.errors,
      loginP50: pct(logins, 0.5),
      loginP99: pct(logins, 0.99),
      checks: checks.length,
      checkFailures: checks.filter((x) => x === Infinity).length,
      checkP50: pct(checks, 0.5),
      checkP99: pct(checks, 0.99),
    }),
  );
  for (const a of agents) a.destroy();
}
