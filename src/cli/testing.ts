import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { Command, Option } from 'commander';
import type { Config } from '../config.js';
import { readControlFile, type ControlFile } from '../testing/control-file.js';
import { OPERATIONS } from '../testing/faults.js';
import { TESTING_PREFIX } from '../testing/http.js';
import { MASK, type Exchange } from '../testing/recorder.js';

/** A CLI failure with a message for the user (no stack trace). */
export class CliError extends Error {}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

const TIMEOUT_MS = 15_000;

/** A TLS connection to the running server whose certificate is the one it wrote to the control file. */
function pinnedSocket(url: URL, fingerprint: string): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || 443), rejectUnauthorized: false }, () => {
      if (socket.getPeerCertificate().fingerprint256 !== fingerprint) {
        socket.destroy();
        reject(new CliError(`the server at ${url.origin} does not present the certificate Portcullis wrote to its control file; refusing to send the control token`));
      } else resolve(socket);
    });
    socket.setTimeout(TIMEOUT_MS, () => socket.destroy(new Error('timeout')));
    socket.once('error', (e) => reject(new CliError(`cannot reach ${url.origin}: ${e.message}`)));
  });
}

/** One request; `socket` for a pinned TLS connection, else plain HTTP or HTTPS with the given TLS options. */
function send(
  url: URL,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
  opts: { socket?: TLSSocket; insecure?: boolean; ca?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const options = {
      method,
      hostname: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port || (url.protocol === 'https:' ? 443 : 80),
      path: `${url.pathname}${url.search}`,
      headers: { ...headers, ...(body !== undefined && { 'content-length': String(Buffer.byteLength(body)) }) },
      timeout: TIMEOUT_MS,
      ...(opts.socket && { createConnection: () => opts.socket! }),
    };
    const done = (res: import('node:http').IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    };
    const req =
      opts.socket || url.protocol === 'http:'
        ? httpRequest(options, done)
        : httpsRequest({ ...options, rejectUnauthorized: !opts.insecure, ...(opts.ca && { ca: opts.ca }) }, done);
    req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
    req.on('error', (e) => reject(e instanceof CliError ? e : new CliError(`${method} ${url.href}: ${e.message}`)));
    req.end(body);
  });
}

/** Calls a control route of the server serving this data directory, with its control token. */
async function control(config: Config, method: string, path: string, body?: unknown): Promise<unknown> {
  const c: ControlFile = (() => {
    try {
      return readControlFile(config.dataDir);
    } catch (e) {
      throw new CliError((e as Error).message);
    }
  })();
  const url = new URL(`${TESTING_PREFIX}${path}`, c.url);
  const socket = url.protocol === 'https:' && c.fingerprint256 ? await pinnedSocket(url, c.fingerprint256) : undefined;
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const res = await send(url, method, { authorization: `Bearer ${c.token}`, ...(payload !== undefined && { 'content-type': 'application/json' }) }, payload, socket ? { socket } : {});
  let parsed: unknown;
  try {
    parsed = JSON.parse(res.body);
  } catch {
    throw new CliError(`unexpected answer (${res.status}) from ${url.href}`);
  }
  if (res.status >= 400) {
    const err = (parsed as { error?: { message?: string } }).error;
    throw new CliError(err?.message ?? `status ${res.status}`);
  }
  return parsed;
}

const print = (v: unknown): void => void process.stdout.write(JSON.stringify(v, null, 2) + '\n');
const num = (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new CliError(`not a number: ${v}`);
  return n;
};

/** `portcullis fault …`, `portcullis testing …` and `portcullis replay`. */
export function testingCommands(root: Command, configFrom: (cmd: Command) => Config): void {
  const fault = root.command('fault').description('fault rules of a server running with --client-testing (on this data directory)');
  fault
    .command('add')
    .description('add a fault rule: which requests, what happens, how often')
    .option('--dialect <name>', 'only this dialect (hcx, lxca, admin, redfish, vcenter, gateway)')
    .addOption(new Option('--op <op>', 'only this operation').choices([...OPERATIONS]))
    .addOption(new Option('--method <method>', 'only this HTTP method').choices(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']))
    .option('--path <prefix>', 'only paths starting with this (or this route pattern, e.g. /sessions/:id)')
    .option('--user <name>', 'only this user (the login\'s, Basic\'s or the session\'s)')
    .option('--status <code>', 'answer with this status in the dialect\'s own envelope', num)
    .option('--error <code>', 'answer with this core error (e.g. identity_unavailable, unavailable, invalid_session)')
    .option('--delay <ms>', 'wait this long first', num)
    .option('--drop', 'close the connection without an answer')
    .option('--truncate', 'send half of the real answer, then close')
    .option('--count <n>', 'fire this many times, then vanish', num)
    .option('--after <seconds>', 'start this many seconds from now', num)
    .option('--for <seconds>', 'stay this many seconds, then vanish', num)
    .action(async (o: Record<string, string | number | boolean | undefined>, cmd: Command) => {
      const match = Object.fromEntries(['dialect', 'op', 'method', 'path', 'user'].filter((k) => o[k] !== undefined).map((k) => [k, o[k]]));
      const effect = {
        ...(o.status !== undefined && { status: o.status }),
        ...(o.error !== undefined && { error: o.error }),
        ...(o.delay !== undefined && { delayMs: o.delay }),
        ...(o.drop && { drop: true }),
        ...(o.truncate && { truncate: true }),
      };
      const rule = {
        match,
        effect,
        ...(o.count !== undefined && { count: o.count }),
        ...(o.after !== undefined && { afterSeconds: o.after }),
        ...(o.for !== undefined && { forSeconds: o.for }),
      };
      print(await control(configFrom(cmd), 'POST', '/faults', rule));
    });
  fault
    .command('list')
    .description('the rules, in order, with how often each fired')
    .action(async (_o: unknown, cmd: Command) => print(await control(configFrom(cmd), 'GET', '/faults')));
  fault
    .command('clear [id]')
    .description('remove one rule, or all')
    .action(async (id: string | undefined, _o: unknown, cmd: Command) => print(await control(configFrom(cmd), 'DELETE', id ? `/faults/${encodeURIComponent(id)}` : '/faults')));

  const testing = root.command('testing').description('session controls of a server running with --client-testing');
  testing.command('status').description('requests seen, clock offset, rules, scenario progress').action(async (_o: unknown, cmd: Command) => print(await control(configFrom(cmd), 'GET', '')));
  testing
    .command('clock <minutes>')
    .description('move Portcullis\'s "now" this many minutes from real time (0 = real time)')
    .action(async (minutes: string, _o: unknown, cmd: Command) => print(await control(configFrom(cmd), 'PUT', '/clock', { offsetMinutes: num(minutes) })));
  testing
    .command('expire <user>')
    .description('expire every live session of a user now')
    .addOption(new Option('--kind <kind>', 'which expiry').choices(['idle', 'absolute']).default('idle'))
    .action(async (user: string, o: { kind: string }, cmd: Command) => print(await control(configFrom(cmd), 'POST', `/users/${encodeURIComponent(user)}/expire-sessions`, { kind: o.kind })));
  testing
    .command('must-change <user>')
    .description('mark a local account (and its live sessions) must-change-password')
    .option('--clear', 'clear the mark instead')
    .action(async (user: string, o: { clear?: boolean }, cmd: Command) =>
      print(await control(configFrom(cmd), 'PUT', `/users/${encodeURIComponent(user)}/must-change-password`, { value: !o.clear })),
    );
  for (const [name, what] of [['lock', 'lock an account name now (LockoutTime)'], ['unlock', 'unlock an account name']] as const) {
    testing.command(`${name} <user>`).description(what).action(async (user: string, _o: unknown, cmd: Command) => print(await control(configFrom(cmd), 'POST', `/users/${encodeURIComponent(user)}/${name}`)));
  }

  root
    .command('replay <file>')
    .description('send the requests of a --record file to another instance and report differences in status and body shape')
    .requiredOption('--against <url>', 'base URL of the instance to compare with')
    .option('--user <name>', 'user for masked Basic credentials')
    .option('--password-file <file>', 'password put back where the recording masked one (logins, Basic)')
    .option('--insecure', 'accept any TLS certificate (a test appliance\'s self-signed one)')
    .option('--ca <file>', 'CA certificate to verify the instance with')
    .action(async (file: string, o: { against: string; user?: string; passwordFile?: string; insecure?: boolean; ca?: string }) => {
      const password = o.passwordFile ? readFileSync(o.passwordFile, 'utf8').replace(/\r?\n$/, '') : undefined;
      const ca = o.ca ? readFileSync(o.ca, 'utf8') : undefined;
      const report = await replay(readFileSync(file, 'utf8'), new URL(o.against), { user: o.user, password, insecure: o.insecure, ca });
      for (const line of report.lines) process.stdout.write(line + '\n');
      process.stdout.write(`${report.total} requests replayed, ${report.differing} differ\n`);
      if (report.differing > 0) process.exitCode = 1;
    });
}

/** The shape of a JSON value: keys and types, not values (what a client's parser depends on). */
export function shapeOf(v: unknown): unknown {
  if (v === null) return 'null';
  if (Array.isArray(v)) return v.length === 0 ? ['any'] : [shapeOf(v[0])];
  if (typeof v === 'object') return Object.fromEntries(Object.keys(v as object).sort().map((k) => [k, shapeOf((v as Record<string, unknown>)[k])]));
  return typeof v;
}

function shapeDiff(a: unknown, b: unknown, path = '$'): string[] {
  if (typeof a !== typeof b || Array.isArray(a) !== Array.isArray(b)) return [`${path}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`];
  if (Array.isArray(a)) return a[0] === 'any' || (b as unknown[])[0] === 'any' ? [] : shapeDiff(a[0], (b as unknown[])[0], `${path}[]`);
  if (a && typeof a === 'object') {
    const out: string[] = [];
    const ka = Object.keys(a as object);
    const kb = Object.keys(b as object);
    for (const k of ka) if (!kb.includes(k)) out.push(`${path}.${k}: missing`);
    for (const k of kb) if (!ka.includes(k)) out.push(`${path}.${k}: unexpected`);
    for (const k of ka) if (kb.includes(k)) out.push(...shapeDiff((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`));
    return out;
  }
  return a === b ? [] : [`${path}: ${String(a)} vs ${String(b)}`];
}

const HOP = new Set(['host', 'content-length', 'connection', 'transfer-encoding', 'keep-alive']);

/**
 * Replays recorded exchanges against another instance. Masked credentials are put
 * back from what that instance issues during the replay (its session token, its
 * cookies and csrf value) and from the password given.
 */
export async function replay(
  text: string,
  base: URL,
  opts: { user?: string | undefined; password?: string | undefined; insecure?: boolean | undefined; ca?: string | undefined },
): Promise<{ total: number; differing: number; lines: string[] }> {
  let token: string | undefined;
  const jar = new Map<string, string>();
  const lines: string[] = [];
  let total = 0;
  let differing = 0;
  const putBack = (v: unknown): unknown => {
    if (v === MASK) return opts.password ?? v;
    if (Array.isArray(v)) return v.map(putBack);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, /pass/i.test(k) && x === MASK ? (opts.password ?? x) : x === MASK ? (token ?? x) : putBack(x)]));
    return v;
  };
  for (const [i, raw] of text.split('\n').entries()) {
    if (!raw.trim()) continue;
    let e: Exchange;
    try {
      e = JSON.parse(raw) as Exchange;
    } catch {
      throw new CliError(`line ${i + 1} is not a recorded exchange`);
    }
    total++;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(e.requestHeaders)) {
      const name = k.toLowerCase();
      if (HOP.has(name) || v === undefined) continue;
      const value = Array.isArray(v) ? v.join(', ') : String(v);
      if (!value.includes(MASK)) headers[name] = value;
      else if (name === 'authorization' && value.startsWith('Basic ') && opts.user && opts.password) headers[name] = `Basic ${Buffer.from(`${opts.user}:${opts.password}`).toString('base64')}`;
      else if (name === 'authorization' && token) headers[name] = `${value.split(' ', 1)[0]} ${token}`;
      else if (name === 'cookie') headers[name] = value.split(/;\s*/).map((c) => { const n = c.split('=', 1)[0]!; return `${n}=${jar.get(n) ?? ''}`; }).join('; ');
      else if (name === 'x-csrf-token') headers[name] = jar.get('csrf') ?? '';
      else if (token) headers[name] = token;
    }
    const body = e.requestBody === undefined ? undefined : JSON.stringify(putBack(e.requestBody));
    if (body !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
    const url = new URL(e.url, base);
    const res = await send(url, e.method, headers, body, { insecure: opts.insecure, ca: opts.ca });
    // What the instance issued: its token (any dialect's header, or a login answering with the bare id) and cookies.
    for (const h of ['x-hm-authorization', 'x-auth-token']) if (typeof res.headers[h] === 'string') token = res.headers[h] as string;
    for (const c of res.headers['set-cookie'] ?? []) {
      const [pair] = c.split(';', 1);
      const [n, ...rest] = pair!.split('=');
      jar.set(n!.trim(), rest.join('='));
      if (n!.trim() !== 'csrf' && rest.join('=')) token = rest.join('=');
    }
    let actual: unknown;
    try {
      actual = res.body ? JSON.parse(res.body) : undefined;
    } catch {
      actual = res.body;
    }
    if (e.method === 'POST' && res.status < 300 && typeof actual === 'string') token = actual;
    if (e.method === 'POST' && res.status < 300 && actual && typeof (actual as { value?: unknown }).value === 'string' && /session/.test(url.pathname)) token = (actual as { value: string }).value;
    const problems: string[] = [];
    if (res.status !== e.status) problems.push(`status ${e.status} recorded, ${res.status} now`);
    problems.push(...shapeDiff(shapeOf(e.responseBody ?? null), shapeOf(actual ?? null)));
    if (problems.length > 0) {
      differing++;
      lines.push(`#${total} ${e.method} ${e.url}: ${problems.join('; ')}`);
    } else lines.push(`#${total} ${e.method} ${e.url}: same (${res.status})`);
  }
  return { total, differing, lines };
}
