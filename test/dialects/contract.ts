import assert from 'node:assert/strict';
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { after, afterEach, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import fc from 'fast-check';
import { CoreError, errorCodes } from '../../src/core/errors.js';
import type { Dialect, DialectDeps } from '../../src/dialects/types.js';
import type { ProblemCode } from '../../src/http/common.js';
import { createApp, enabledDialects } from '../../src/server.js';
import { tlsMaterial } from '../../src/tls.js';
import { ADMIN_ROLES, addUser, harness, type Harness } from '../helpers.js';

/*
 * The dialect contract: one suite, written once, that every dialect runs (the way
 * every store runs test/contract/store.contract.ts). A dialect describes its
 * routes and how to recognise its error envelope; the suite sends every kind of
 * broken, hostile and "not now" request and checks that each answer is in the
 * dialect's own envelope, with a fitting status, and never names the framework,
 * shows a stack frame or echoes a secret. A new dialect is done when it passes.
 *
 *   runDialectContract({ label: 'HCX', dialect: 'hcx', ... })
 */

/** An answer, from `inject` or parsed off a real socket. */
export interface Answer {
  statusCode: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: string;
}

export interface Credentials {
  username: string;
  password: string;
}

/** A route that takes a JSON body. */
export interface JsonRoute {
  method: 'POST' | 'PUT' | 'PATCH';
  url: string;
  /** A body that the route accepts (it may still refuse it for other reasons, e.g. a wrong password). */
  body(c: Credentials): Record<string, unknown>;
  /** Fields whose absence is a 400. */
  required: string[];
  /** Headers the route needs besides the body (a session credential, a csrf token). */
  headers?(s: SessionHandle): Record<string, string>;
  /** The route rejects unknown fields (400); false for dialects whose schema tolerates them. */
  rejectsUnknownFields?: boolean;
}

/** A live session as a test client holds it. */
export interface SessionHandle {
  token: string;
  /** Whatever else the dialect's client keeps (cookies, csrf, ids). */
  extra: Record<string, string>;
}

export interface DialectContractSubject {
  /** Shown in test names: "HCX". */
  label: string;
  /** The renderer's name, also the `config.dialect` of its routes. */
  dialect: string;
  /** Config overrides the dialect needs (enabling it, its identity source). */
  overrides?: Record<string, unknown>;
  /** Roles of the user the suite creates. */
  roles?: string[];
  /** Makes a session for the user (through the dialect's login, or the core for dialects without one). */
  session(h: Harness, c: Credentials): Promise<SessionHandle>;
  /** The dialect's login route, if it has one: its refusals are checked too. */
  login?: JsonRoute & {
    /** Status of a refused login (wrong password, unknown user). */
    failStatus: number;
    /** Status of an accepted login. */
    okStatus: number;
  };
  /** Other JSON routes that need a session. */
  jsonRoutes?: JsonRoute[];
  /** A protected read with the session's credential (the session check). */
  check: { method: 'GET'; url: string; headers(s: SessionHandle): Record<string, string> };
  /** Protected requests that clients send with `Content-Type: application/json` and an empty body (list, logout). */
  emptyJsonBody: { method: 'GET' | 'DELETE' | 'POST'; url: string; headers(s: SessionHandle): Record<string, string>; okStatus: number }[];
  /** Paths inside the dialect's space that do not exist. */
  unknownPaths: string[];
  /** A path that exists and a method it does not answer. */
  wrongMethod: { method: 'PUT' | 'PATCH' | 'POST' | 'DELETE'; url: string };
  /** A route with a path parameter: its URL for a parameter value. */
  paramRoute?: { method: 'GET' | 'DELETE'; url(param: string): string; headers(s: SessionHandle): Record<string, string> };
  /** Asserts that an answer is an error in the dialect's envelope (status, content type, body shape). */
  assertError(res: Answer, status: number): void;
}

const USER = 'contract-user';
const PASS = 'Contract-Pass-9q';
const FRAMEWORK = /FST_ERR|fastify|find-my-way|avvio|light-my-request/i;
const STACK_FRAME = /\bat (?:\S+ )?\(?[^\s()]+:\d+:\d+\)?/;

/** Every problem code the HTTP layer and the core can produce. */
export const ALL_PROBLEM_CODES: ProblemCode[] = [
  ...(Object.keys(errorCodes) as (keyof typeof errorCodes)[]),
  'no_route',
  'method_not_allowed',
  'uri_too_long',
  'payload_too_large',
  'unsupported_media_type',
  'header_too_large',
  'timeout',
];

/** No framework name, no stack frame, no secret of the suite's user. */
export function assertClean(res: Answer, secrets: string[] = []): void {
  assert.doesNotMatch(res.body, FRAMEWORK, `the framework is named: ${res.body.slice(0, 300)}`);
  assert.doesNotMatch(res.body, STACK_FRAME, `a stack frame: ${res.body.slice(0, 300)}`);
  for (const s of [PASS, ...secrets]) if (s) assert.ok(!res.body.includes(s), 'a secret is echoed');
  for (const [k, v] of Object.entries(res.headers)) {
    assert.doesNotMatch(`${k}: ${String(v)}`, /fastify/i, 'a header names the framework');
  }
}

/** Sends raw bytes (plain or TLS) and parses the first HTTP answer; bounded by a timeout. */
export function rawRequest(port: number, data: string | Buffer, opts: { tls?: boolean; keepOpen?: boolean } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('utf8');
      if (!text) return reject(err ?? new Error('no answer'));
      try {
        resolve(parseAnswer(text));
      } catch (e) {
        reject(e as Error);
      }
    };
    const onConnect = () => socket.write(data);
    const socket: Socket = opts.tls
      ? tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }, onConnect)
      : tcpConnect({ host: '127.0.0.1', port }, onConnect);
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      const text = Buffer.concat(chunks).toString('utf8');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return;
      const len = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end));
      if (len && Buffer.byteLength(text.slice(end + 4)) >= Number(len[1])) finish();
    });
    socket.on('end', () => finish());
    socket.on('close', () => finish());
    socket.on('error', (e) => finish(e));
    const timer = setTimeout(() => finish(new Error('timeout')), 10_000);
  });
}

/**
 * Sends `first` on a new connection, reads its answer, then sends `second` on the
 * same (keep-alive) connection and returns the second answer.
 */
export function rawExchange(port: number, first: string, second: string | Buffer, opts: { tls?: boolean } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    let stage = 0;
    const onConnect = () => socket.write(first);
    const socket: Socket = opts.tls
      ? tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }, onConnect)
      : tcpConnect({ host: '127.0.0.1', port }, onConnect);
    const timer = setTimeout(() => done(new Error('timeout')), 10_000);
    const complete = (): boolean => {
      const text = buf.toString('utf8');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return false;
      const len = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end));
      return Boolean(len) && Buffer.byteLength(text.slice(end + 4)) >= Number(len![1]);
    };
    function done(err?: Error) {
      clearTimeout(timer);
      socket.destroy();
      if (stage === 1 && buf.length > 0) {
        try {
          return resolve(parseAnswer(buf.toString('utf8')));
        } catch (e) {
          return reject(e as Error);
        }
      }
      reject(err ?? new Error(`connection closed at stage ${stage}`));
    }
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (!complete()) return;
      if (stage === 0) {
        stage = 1;
        buf = Buffer.alloc(0);
        socket.write(second);
      } else done();
    });
    socket.on('close', () => done());
    socket.on('error', (e) => done(e));
  });
}

/** Status, headers (lower-case names) and body of a raw HTTP/1.1 answer. */
export function parseAnswer(text: string): Answer {
  const end = text.indexOf('\r\n\r\n');
  assert.ok(end > 0, `not an HTTP answer: ${text.slice(0, 200)}`);
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
  const m = /^HTTP\/1\.1 (\d{3}) /.exec(statusLine!);
  assert.ok(m, `bad status line: ${statusLine}`);
  const headers: Answer['headers'] = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  return { statusCode: Number(m[1]), headers, body: text.slice(end + 4) };
}

/** Runs the shared contract against one dialect. */
export function runDialectContract(subject: DialectContractSubject): void {
  const S = subject;
  describe(`${S.label}: the shared dialect contract`, () => {
    let h: Harness;
    let session: SessionHandle;
    let dialect: Dialect;
    const restore: (() => void)[] = [];
    const creds: Credentials = { username: USER, password: PASS };

    /** Replaces a method of one object for one test. */
    function patch<T extends object, K extends keyof T>(obj: T, key: K, fn: T[K]) {
      const had = Object.hasOwn(obj, key);
      const original = obj[key];
      obj[key] = fn;
      restore.push(() => {
        if (had) obj[key] = original;
        else delete obj[key];
      });
    }

    const send = (req: { method: string; url: string; headers?: Record<string, string>; payload?: string }): Promise<Answer> =>
      h.app.inject({ method: req.method as 'GET', url: req.url, headers: req.headers ?? {}, ...(req.payload !== undefined && { payload: req.payload }) });

    /** An error answer: the dialect's envelope, the status, and nothing that leaks. */
    function expectError(res: Answer, status: number) {
      assert.equal(res.statusCode, status, `expected ${status}, got ${res.statusCode}: ${res.body.slice(0, 300)}`);
      S.assertError(res, status);
      assertClean(res, [session?.token ?? '']);
    }

    before(async () => {
      h = await harness({ overrides: S.overrides ?? {} });
      await addUser(h, USER, PASS, S.roles ?? ADMIN_ROLES);
      session = await S.session(h, creds);
      const deps: DialectDeps = {
        sessions: h.p.sessions, accounts: h.p.accounts, settings: h.p.settings, audit: h.p.audit, secondFactors: h.p.secondFactors,
        config: h.p.config, clock: h.p.clock, isAdministrator: h.p.isAdministrator,
      };
      const found = enabledDialects(h.config, deps).find((d) => d.name === S.dialect);
      assert.ok(found, `dialect ${S.dialect} is enabled by the subject's overrides`);
      dialect = found;
    });
    afterEach(() => {
      for (const r of restore.splice(0).reverse()) r();
    });
    after(() => h.close());

    describe('every core and transport error renders in the envelope', () => {
      for (const code of ALL_PROBLEM_CODES) {
        it(`renders "${code}" with a 4xx/5xx status in the ${S.label} envelope`, () => {
          const r = dialect.render({ code, detail: `detail of ${code}` }, { id: 'req-1' });
          assert.ok(r.status >= 400 && r.status <= 599, `status ${r.status}`);
          if (code === 'busy' || code === 'unavailable') {
            assert.equal(r.status, 503);
            assert.match(String(r.headers?.['retry-after']), /^\d+$/, 'Retry-After on a retry-later failure');
          }
          const res: Answer = { statusCode: r.status, headers: { 'content-type': 'application/json; charset=utf-8', ...r.headers }, body: JSON.stringify(r.body) };
          S.assertError(res, r.status);
          assertClean(res);
        });
      }
    });

    describe('JSON bodies', () => {
      const routes = [...(S.login ? [S.login] : []), ...(S.jsonRoutes ?? [])];
      for (const route of routes) {
        const name = `${route.method} ${route.url}`;
        const headers = (over: Record<string, string> = {}) => ({ ...(route.headers ? route.headers(session) : {}), ...over });
        const jsonHeaders = () => headers({ 'content-type': 'application/json' });
        const body = () => route.body(creds);

        it(`${name}: malformed JSON → 400`, async () => {
          for (const payload of [JSON.stringify(body()).slice(0, -1), JSON.stringify(body()).replace(/}$/, ',}'), "{'a':1}", '{"a":1}}', '\u0000']) {
            expectError(await send({ method: route.method, url: route.url, headers: jsonHeaders(), payload }), 400);
          }
        });
        it(`${name}: a JSON array, string, number or null instead of an object → 400`, async () => {
          for (const payload of [JSON.stringify([body()]), JSON.stringify('x'), '42', 'null', 'true']) {
            expectError(await send({ method: route.method, url: route.url, headers: jsonHeaders(), payload }), 400);
          }
        });
        for (const field of route.required) {
          it(`${name}: missing "${field}" → 400`, async () => {
            const b = body();
            delete b[field];
            expectError(await send({ method: route.method, url: route.url, headers: jsonHeaders(), payload: JSON.stringify(b) }), 400);
          });
          it(`${name}: "${field}" of the wrong type → 400`, async () => {
            const b = body();
            for (const wrong of [typeof b[field] === 'number' ? 'seven' : 12345, [], { $ne: '' }, true]) {
              expectError(await send({ method: route.method, url: route.url, headers: jsonHeaders(), payload: JSON.stringify({ ...b, [field]: wrong }) }), 400);
            }
          });
        }
        if (route.rejectsUnknownFields !== false) {
          it(`${name}: an unknown field → 400`, async () => {
            expectError(await send({ method: route.method, url: route.url, headers: jsonHeaders(), payload: JSON.stringify({ ...body(), notAField: 1 }) }), 400);
          });
        }
        it(`${name}: a prototype-poisoning key → 400`, async () => {
          const text = JSON.stringify(body()).replace(/^\{/, '{"__proto__":{"isAdmin":true},');
          expectError(await send({ method: route.method, url: route.url, headers: jsonHeaders(), payload: text }), 400);
        });
        it(`${name}: an explicit non-JSON content type → 415`, async () => {
          for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml', 'multipart/form-data; boundary=x']) {
            expectError(await send({ method: route.method, url: route.url, headers: headers({ 'content-type': type }), payload: JSON.stringify(body()) }), 415);
          }
        });
        it(`${name}: a body over the limit → 413`, async () => {
          const big = JSON.stringify({ ...body(), padding: 'p'.repeat(h.config.http.bodyLimitBytes) });
          expectError(await send({ method: route.method, url: route.url, headers: jsonHeaders(), payload: big }), 413);
        });
        it(`${name}: no Content-Type at all is read as JSON (same answer as with application/json)`, async () => {
          const payload = JSON.stringify(body());
          const withType = await send({ method: route.method, url: route.url, headers: jsonHeaders(), payload });
          const without = await send({ method: route.method, url: route.url, headers: headers(), payload });
          assert.notEqual(without.statusCode, 415, without.body);
          assert.equal(without.statusCode, withType.statusCode, `${without.body} vs ${withType.body}`);
          assertClean(without);
          // A broken body without a type is a JSON error, not a media-type error.
          expectError(await send({ method: route.method, url: route.url, headers: headers(), payload: '{"broken":' }), 400);
        });
        it(`${name}: application/json with a charset, and a +json type, are JSON`, async () => {
          const payload = JSON.stringify(body());
          const ref = await send({ method: route.method, url: route.url, headers: jsonHeaders(), payload });
          for (const type of ['application/json; charset=utf-8', 'Application/JSON', 'application/merge-patch+json']) {
            const res = await send({ method: route.method, url: route.url, headers: headers({ 'content-type': type }), payload });
            assert.equal(res.statusCode, ref.statusCode, `${type}: ${res.body}`);
          }
        });
      }

      if (S.login) {
        const login = S.login;
        it(`a login with a wrong password → ${login.failStatus}, same answer as an unknown user`, async () => {
          const wrong = await send({ method: login.method, url: login.url, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(login.body({ username: USER, password: 'Not-The-Pass-1' })) });
          expectError(wrong, login.failStatus);
          const unknown = await send({ method: login.method, url: login.url, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(login.body({ username: 'nobody-at-all', password: 'Not-The-Pass-1' })) });
          expectError(unknown, login.failStatus);
          const strip = (b: string) => b.replace(/"(time|timestamp|transactionId|@odata\.id|Id)":("[^"]*"|\d+)/g, '');
          assert.equal(strip(unknown.body), strip(wrong.body), 'no user enumeration by message');
        });
        it(`a login without Content-Type succeeds (${login.okStatus})`, async () => {
          const res = await send({ method: login.method, url: login.url, payload: JSON.stringify(login.body(creds)) });
          assert.equal(res.statusCode, login.okStatus, res.body);
        });
        it('a login refused as busy → 503 + Retry-After in the envelope, nothing stored', async () => {
          const before = (await h.p.sessions.listSessions()).length;
          patch(h.p.local, 'authenticate', () => Promise.reject(new CoreError('busy')));
          const res = await send({ method: login.method, url: login.url, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(login.body(creds)) });
          expectError(res, 503);
          assert.equal(res.headers['retry-after'], '1');
          assert.equal((await h.p.sessions.listSessions()).length, before);
        });
        it('a login while the account store is down → 503 + Retry-After in the envelope', async () => {
          patch(h.p.store, 'getAccount', () => Promise.reject(new CoreError('unavailable', 'account store: connect ECONNREFUSED 10.9.8.7:5432')));
          const res = await send({ method: login.method, url: login.url, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(login.body(creds)) });
          expectError(res, 503);
          assert.equal(res.headers['retry-after'], '2');
          assert.ok(!res.body.includes('ECONNREFUSED') && !res.body.includes('10.9.8.7'), 'no adapter detail');
        });
      }
    });

    describe('sessions', () => {
      it('the check with the session works', async () => {
        const res = await send({ method: S.check.method, url: S.check.url, headers: S.check.headers(session) });
        assert.equal(res.statusCode, 200, res.body);
        assertClean(res, [session.token]);
      });
      it('the check with an unknown, malformed or over-long credential → 401', async () => {
        for (const token of ['nope', 'A'.repeat(43), 'x'.repeat(5000), '../../etc/passwd', '%00', 'ünïcödé']) {
          const res = await send({ method: S.check.method, url: S.check.url, headers: S.check.headers({ token, extra: Object.fromEntries(Object.keys(session.extra).map((k) => [k, token])) }) });
          expectError(res, 401);
        }
      });
      it('the check without any credential → 401', async () => {
        expectError(await send({ method: S.check.method, url: S.check.url }), 401);
      });
      it('the check while the session store is down → 503 + Retry-After, the session still valid afterwards', async () => {
        patch(h.p.store, 'findSessionByTokenHash', () => Promise.reject(new CoreError('unavailable', 'session store: connect ECONNREFUSED 10.9.8.7:6379')));
        patch(h.p.store, 'cachedSession', () => undefined); // a store that is down answers nothing from its memory either
        const other = await S.session(h, creds);
        const res = await send({ method: S.check.method, url: S.check.url, headers: S.check.headers(other) });
        expectError(res, 503);
        assert.equal(res.headers['retry-after'], '2');
        for (const r of restore.splice(0).reverse()) r();
        assert.equal((await send({ method: S.check.method, url: S.check.url, headers: S.check.headers(other) })).statusCode, 200);
      });
      for (const r of S.emptyJsonBody) {
        it(`${r.method} ${r.url} with Content-Type: application/json and an empty body is not an error`, async () => {
          const s = r.method === 'GET' ? session : await S.session(h, creds);
          const res = await send({ method: r.method, url: r.url, headers: { ...r.headers(s), 'content-type': 'application/json' }, payload: '' });
          assert.equal(res.statusCode, r.okStatus, res.body);
          assertClean(res, [s.token]);
        });
      }
    });

    describe('URLs, methods and heads', () => {
      for (const path of S.unknownPaths) {
        it(`GET and POST ${path} (no such path) → 404`, async () => {
          expectError(await send({ method: 'GET', url: path }), 404);
          expectError(await send({ method: 'POST', url: path, headers: { 'content-type': 'application/json' }, payload: '{}' }), 404);
        });
      }
      it(`${S.wrongMethod.method} ${S.wrongMethod.url} (a path that exists, another method) → 405 with Allow`, async () => {
        const res = await send({ method: S.wrongMethod.method, url: S.wrongMethod.url, headers: { 'content-type': 'application/json' }, payload: '{}' });
        expectError(res, 405);
        assert.match(String(res.headers.allow), /^[A-Z]+(, [A-Z]+)*$/);
        assert.ok(!String(res.headers.allow).split(', ').includes(S.wrongMethod.method));
      });
      it('an over-long URL (20 000 characters in the path) → 404 or 414, in the envelope', async () => {
        const res = await send({ method: 'GET', url: `${S.unknownPaths[0]}/${'a'.repeat(20000)}` });
        assert.ok([404, 414].includes(res.statusCode), `${res.statusCode}`);
        expectError(res, res.statusCode);
      });
      it('a malformed percent-encoding in the path → 400 or 404, in the envelope', async () => {
        const res = await send({ method: 'GET', url: S.paramRoute ? S.paramRoute.url('%zz%') : `${S.unknownPaths[0]}/%zz%` });
        assert.ok([400, 404].includes(res.statusCode), `${res.statusCode}: ${res.body}`);
        expectError(res, res.statusCode);
      });
      if (S.paramRoute) {
        const pr = S.paramRoute;
        it(`${pr.method} with a 3000-character path parameter → 414 in the envelope`, async () => {
          expectError(await send({ method: pr.method, url: pr.url('x'.repeat(3000)), headers: pr.headers(session) }), 414);
        });
        it(`${pr.method} with an unknown, odd-unicode path parameter → 4xx in the envelope`, async () => {
          for (const p of ['nope', encodeURIComponent('ü\u202e\u0000'), encodeURIComponent('../..')]) {
            const res = await send({ method: pr.method, url: pr.url(p), headers: pr.headers(session) });
            assert.ok(res.statusCode >= 400 && res.statusCode < 500, `${p}: ${res.statusCode} ${res.body}`);
            expectError(res, res.statusCode);
          }
        });
      }
      it('a long query string plus headers over the head limit → 431 in the envelope', async () => {
        const res = await send({
          method: 'GET',
          url: `${S.check.url}?q=${'q'.repeat(8000)}`,
          headers: { ...S.check.headers(session), 'x-padding': 'p'.repeat(h.config.http.maxHeaderBytes) },
        });
        expectError(res, 431);
      });
    });

    describe('on a real socket (what the HTTP parser itself handles)', () => {
      let app: FastifyInstance;
      let tlsApp: FastifyInstance;
      let port: number;
      let tlsPort: number;
      before(async () => {
        app = createApp(h.p, h.logger);
        await app.listen({ host: '127.0.0.1', port: 0 });
        port = (app.server.address() as { port: number }).port;
        tlsApp = createApp(h.p, h.logger, await tlsMaterial(h.config, h.logger));
        await tlsApp.listen({ host: '127.0.0.1', port: 0 });
        tlsPort = (tlsApp.server.address() as { port: number }).port;
      });
      after(async () => {
        await app.close();
        await tlsApp.close();
      });

      const credentialLines = () => Object.entries(S.check.headers(session)).map(([k, v]) => `${k}: ${v}\r\n`).join('');

      for (const tls of [false, true]) {
        const over = tls ? 'TLS' : 'plain HTTP';
        /** Over Node's own parser limit (hardHeaderLimit): the parser, not a route, refuses it. */
        const monster = () =>
          `GET ${S.check.url}?q=${'q'.repeat(30000)} HTTP/1.1\r\nHost: 127.0.0.1\r\n${credentialLines()}${Array.from({ length: 40 }, (_, i) => `X-Pad-${i}: ${'v'.repeat(10000)}\r\n`).join('')}\r\n`;
        it(`a head far over every limit (430 KB) on a keep-alive connection (${over}) → 431 in the envelope`, async () => {
          const first = `GET ${S.check.url} HTTP/1.1\r\nHost: 127.0.0.1\r\n${credentialLines()}\r\n`;
          const res = await rawExchange(tls ? tlsPort : port, first, monster(), { tls });
          expectError(res, 431);
          assert.equal(res.headers.connection, 'close');
        });
        it(`a head far over every limit (430 KB) on a fresh connection (${over}) → 431, JSON, connection closed, nothing leaked`, async () => {
          // The request line is out of the parser's view by then (see hardHeaderLimit): the default dialect's envelope.
          const res = await rawRequest(tls ? tlsPort : port, monster(), { tls });
          assert.equal(res.statusCode, 431);
          assert.match(String(res.headers['content-type']), /^application\/json/);
          assert.equal(res.headers.connection, 'close');
          assertClean(res, [session.token]);
        });
        it(`a long query string plus headers over the configured limit (48 KB, ${over}) → 431 in the envelope, with the security headers`, async () => {
          const head = `GET ${S.check.url}?q=${'q'.repeat(8000)} HTTP/1.1\r\nHost: 127.0.0.1\r\n${credentialLines()}X-Pad: ${'v'.repeat(40000)}\r\n\r\n`;
          const res = await rawRequest(tls ? tlsPort : port, head, { tls });
          expectError(res, 431);
          assert.equal(res.headers['x-content-type-options'], 'nosniff');
        });
      }
      it('a header with a control character → 400 in the envelope', async () => {
        const res = await rawRequest(port, `GET ${S.check.url} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Bad: a\u0001b\r\n\r\n`);
        expectError(res, 400);
      });
      it('a chunked body that never ends is cut off, and a malformed chunk → 400 in the envelope', async () => {
        const route = S.login ?? S.jsonRoutes?.[0];
        if (!route) return;
        const res = await rawRequest(port, `${route.method} ${route.url} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`);
        expectError(res, 400);
      });
      it('both Content-Length and Transfer-Encoding (request smuggling) → 400 in the envelope', async () => {
        const route = S.login ?? S.jsonRoutes?.[0];
        if (!route) return;
        const res = await rawRequest(port, `${route.method} ${route.url} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`);
        expectError(res, 400);
      });
      it('a 3000-character path parameter on the socket → 414 in the envelope, with the security headers', async () => {
        if (!S.paramRoute) return;
        const lines = Object.entries(S.paramRoute.headers(session)).map(([k, v]) => `${k}: ${v}\r\n`).join('');
        const res = await rawRequest(port, `${S.paramRoute.method} ${S.paramRoute.url('x'.repeat(3000))} HTTP/1.1\r\nHost: 127.0.0.1\r\n${lines}\r\n`);
        expectError(res, 414);
        assert.equal(res.headers['x-content-type-options'], 'nosniff');
      });
    });

    describe('generated input (fast-check)', () => {
      const routes = [...(S.login ? [S.login] : []), ...(S.jsonRoutes ?? [])];
      for (const route of routes) {
        it(`${route.method} ${route.url}: any JSON value or odd text as the body → never a 5xx, always the envelope on errors`, async () => {
          const bodies = fc.oneof(
            fc.json({ maxDepth: 3 }),
            fc.string({ maxLength: 200, unit: 'binary' }),
            fc.dictionary(fc.constantFrom(...route.required, 'extra', '__proto__', 'constructor'), fc.jsonValue({ maxDepth: 2 })).map((o) => JSON.stringify(o)),
          );
          await fc.assert(
            fc.asyncProperty(bodies, fc.constantFrom('application/json', undefined, 'text/plain'), async (payload, type) => {
              const headers = { ...(route.headers ? route.headers(session) : {}), ...(type && { 'content-type': type }) };
              const res = await send({ method: route.method, url: route.url, headers, payload });
              assert.ok(res.statusCode < 500, `${res.statusCode} for ${JSON.stringify(payload)}: ${res.body}`);
              if (res.statusCode >= 400) {
                S.assertError(res, res.statusCode);
                assertClean(res);
              }
            }),
            { numRuns: 150, seed: 20261202 },
          );
        });
      }
      it('odd header values on the check → 200, 401 or 4xx in the envelope, never a 5xx', async () => {
        await fc.assert(
          fc.asyncProperty(fc.string({ maxLength: 300 }).filter((v) => /^[\t\x20-\x7e\x80-\xff]*$/.test(v)), async (v) => {
            const res = await send({ method: 'GET', url: S.check.url, headers: { ...S.check.headers(session), 'x-not-user-input': v, accept: v, 'x-forwarded-for': v } });
            assert.ok(res.statusCode < 500, `${res.statusCode}: ${res.body}`);
            if (res.statusCode >= 400) S.assertError(res, res.statusCode);
          }),
          { numRuns: 100, seed: 20261202 },
        );
      });
    });
  });
}
