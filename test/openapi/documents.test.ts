import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { fileURLToPath } from 'node:url';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { ADMIN_ROLES, addUser, harness, tempDir, type Harness } from '../helpers.js';
import { DriftChecker } from './drift.js';
import { GUIDE_PAGES } from '../../src/http/docs.js';

/*
 * The OpenAPI documents (docs/openapi.md): valid OpenAPI 3.1, examples that match
 * their schemas, every dialect route documented, the drift check live and able to
 * fail, /docs served from the package behind `docs.access`, and the CLI's copy.
 */

const DIALECTS = ['admin', 'gateway', 'hcx', 'lxca', 'redfish', 'vcenter'];
/**
 * Dialects that landed before the documents and have no `openapi` header yet: no
 * document, and their responses are not drift-checked. Each needs response schemas on
 * its routes (docs/openapi.md "Adding a dialect"); then it comes off this list.
 */
const PENDING: string[] = [];
const ADMIN = { username: 'docadmin', password: 'Doc-Admin-Pass-1', roles: ADMIN_ROLES };
const OPERATOR = { username: 'operator', password: 'Operator-Pass-1', roles: ['Operator'] };
const CLI = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', 'src', 'cli.js');

type Json = Record<string, any>;

const docOf = (h: Harness, d: string) => h.app.openapi.document(d) as Json;

async function hcxToken(h: Harness, u: { username: string; password: string }): Promise<string> {
  const res = await h.app.inject({ method: 'POST', url: '/sessions', payload: { UserId: u.username, password: u.password } });
  assert.equal(res.statusCode, 200, res.body);
  const cookie = String(res.headers['set-cookie']);
  return /JSESSIONID=([^;]+)/.exec(cookie)![1]!;
}

/** Every (schema, example) pair of a document: request bodies, responses and parameters. */
function examplesOf(doc: Json): { where: string; schema: Json; value: unknown }[] {
  const out: { where: string; schema: Json; value: unknown }[] = [];
  const media = (where: string, m: Json) => {
    if (m.example !== undefined) out.push({ where, schema: m.schema, value: m.example });
    for (const [name, e] of Object.entries((m.examples ?? {}) as Record<string, Json>)) out.push({ where: `${where} (${name})`, schema: m.schema, value: e.value });
  };
  for (const [path, methods] of Object.entries(doc.paths as Record<string, Json>)) {
    for (const [method, op] of Object.entries(methods)) {
      const at = `${method.toUpperCase()} ${path}`;
      for (const [type, m] of Object.entries((op.requestBody?.content ?? {}) as Record<string, Json>)) media(`${at} request ${type}`, m);
      for (const [status, r] of Object.entries(op.responses as Record<string, Json>)) {
        for (const [type, m] of Object.entries((r.content ?? {}) as Record<string, Json>)) media(`${at} ${status} ${type}`, m);
      }
    }
  }
  return out;
}

describe('OpenAPI documents', () => {
  let h: Harness;
  before(async () => {
    h = await harness();
    await addUser(h, ADMIN.username, ADMIN.password, ADMIN.roles);
    await addUser(h, OPERATOR.username, OPERATOR.password, OPERATOR.roles);
  });
  after(() => h.close());

  it('has a document for every dialect that has routes (but those still listed as pending)', () => {
    assert.deepEqual(
      h.app.openapi.undocumented().filter((d) => !PENDING.includes(d)),
      [],
      'give these dialects an `openapi` header and response schemas (docs/openapi.md)',
    );
    for (const d of PENDING) assert.ok(!h.app.openapi.dialects().includes(d), `${d} has a document now: take it off PENDING`);
    for (const d of DIALECTS) assert.ok(h.app.openapi.dialects().includes(d), d);
  });

  // Every document, the dialects added later included (they register themselves: docs/openapi.md).
  it('validates every document as OpenAPI 3.1', async () => {
    for (const d of h.app.openapi.dialects()) {
      const v = new Validator();
      const res = await v.validate(docOf(h, d));
      assert.equal(res.valid, true, `${d}: ${JSON.stringify(res.errors, null, 2)}`);
      assert.equal(v.version, '3.1', d);
    }
  });

  it('gives every operation a summary, a success response, the transport errors and error responses in its dialect\'s envelope', () => {
    for (const d of h.app.openapi.dialects()) {
      const doc = docOf(h, d);
      const ops = Object.entries(doc.paths as Record<string, Json>).flatMap(([p, ms]) => Object.entries(ms).map(([m, op]) => [`${d}: ${m} ${p}`, op as Json] as const));
      assert.ok(ops.length > 0, d);
      for (const [at, op] of ops) {
        assert.equal(typeof op.summary, 'string', at);
        const statuses = Object.keys(op.responses);
        assert.ok(statuses.some((s) => s.startsWith('2')), `${at}: no success response`);
        assert.ok(!statuses.includes('default'), `${at}: responses not documented`);
        for (const s of ['400', '413', '415', '431', '500', '503']) assert.ok(statuses.includes(s), `${at}: ${s} missing`);
        assert.ok(op.responses['503'].headers['Retry-After'], `${at}: 503 without Retry-After`);
        for (const s of statuses.filter((x) => Number(x) >= 400)) {
          const schema = op.responses[s].content['application/json'].schema;
          const envelope = schema.allOf?.[0] ?? schema;
          const error = doc.components.schemas.Error;
          assert.ok(isDeepStrictEqual(envelope, error) || (error.anyOf as Json[] | undefined)?.some((e) => isDeepStrictEqual(e, envelope)), `${at} ${s}: not the dialect's envelope`);
        }
      }
    }
  });

  it('has examples, each matching its own schema', () => {
    for (const d of h.app.openapi.dialects()) {
      const ajv = new Ajv2020({ strict: false, allErrors: true });
      const examples = examplesOf(docOf(h, d));
      assert.ok(examples.length > 5, `${d}: examples are documented`);
      for (const e of examples) {
        const validate = ajv.compile(e.schema);
        assert.ok(validate(e.value), `${d} ${e.where}: ${JSON.stringify(validate.errors)}`);
      }
    }
  });

  it('refuses a document that is not OpenAPI 3.1 (the validator can fail)', async () => {
    const broken = docOf(h, 'hcx');
    (broken.paths['/api/admin/v1/sessions'].post as Json).responses = { 200: { content: {} } }; // a response needs a description
    const res = await new Validator().validate(broken);
    assert.equal(res.valid, false);
  });

  it('documents the headers clients depend on', () => {
    const hcx = docOf(h, 'hcx');
    const login = hcx.paths['/api/admin/v1/sessions'].post;
    assert.equal(login.responses['200'].headers['x-hm-authorization'].required, true);
    assert.deepEqual(login.responses['200'].headers.auth_token_name.schema, { type: 'string', const: 'x-hm-authorization' });
    assert.ok(hcx.paths['/api/admin/v1/sessions'].get.parameters.some((p: Json) => p.name === 'X-NOT-USER-INPUT' && p.in === 'header'));
    assert.deepEqual(hcx.components.securitySchemes.hcxToken, { type: 'apiKey', in: 'header', name: 'x-hm-authorization', description: 'The token a login returned in x-hm-authorization.' });
    assert.equal(hcx.paths['/api/admin/v1/sessions'].get.responses['401'].headers['WWW-Authenticate'].required, true);
    const lxca = docOf(h, 'lxca');
    assert.equal(lxca.components.securitySchemes.csrf.name, 'X-Csrf-Token');
    assert.equal(lxca.components.securitySchemes.session.name, 'JSESSIONID');
    assert.deepEqual(lxca.paths['/sessions/{id}'].delete.security, [{ session: [], csrf: [] }]);
    assert.deepEqual(lxca.paths['/sessions/{id}'].delete.parameters[0], { name: 'id', in: 'path', required: true, schema: { type: 'string', minLength: 1, maxLength: 128 } });
    assert.equal(lxca.paths['/sessions'].post.responses['200'].headers['Set-Cookie'].required, true);
  });

  it('uses the seeds\' example bodies', () => {
    const hcx = docOf(h, 'hcx');
    const ex = hcx.paths['/api/admin/v1/sessions'].post.responses['200'].content['application/json'].example;
    assert.equal(ex.data.user.transactionId, '4636e751-ca87-42d4-a7fc-809b31fbbd82');
    assert.equal(ex.time, 1753089693083);
    const req = hcx.paths['/api/admin/v1/sessions'].post.requestBody.content['application/json'].examples;
    assert.deepEqual(req.example2.value, { authType: 'vsphere', username: 'admin', password: 'SecureP@ssw0rd' });
    const lxca = docOf(h, 'lxca');
    assert.equal(lxca.paths['/sessions'].post.responses['200'].content['application/json'].example.response.session.id, '19lee2n050duf10sew3a6l49gs');
    // The error examples are the dialect's own renderings.
    const e401 = hcx.paths['/api/admin/v1/sessions'].post.responses['401'].content['application/json'].examples.invalid_credentials.value;
    assert.equal(e401.error, 'Invalid username or password.');
    assert.equal(e401.errorCode, 'INVALID_CREDENTIALS');
  });
});

describe('the drift check', () => {
  let h: Harness;
  before(async () => {
    h = await harness();
    await addUser(h, ADMIN.username, ADMIN.password, ADMIN.roles);
  });
  after(() => h.close());

  it('checks every injected response of the harness', async () => {
    const before = h.drift.checked.get('hcx') ?? 0;
    const res = await h.app.inject({ method: 'POST', url: '/api/admin/v1/sessions', payload: { username: ADMIN.username, password: ADMIN.password } });
    assert.equal(res.statusCode, 200);
    await h.app.inject({ method: 'GET', url: '/api/admin/v1/nothing-here' });
    assert.equal(h.drift.checked.get('hcx'), before + 2);
  });

  it('fails a response that leaves the document: an extra key, a missing header, an undocumented status, a wrong envelope', async () => {
    const checker = new DriftChecker(h.app);
    const res = await h.app.inject({ method: 'POST', url: '/api/admin/v1/sessions', payload: { username: ADMIN.username, password: ADMIN.password } });
    const copy = { statusCode: res.statusCode, headers: { ...res.headers }, body: res.body };
    checker.check('POST', '/api/admin/v1/sessions', copy); // as received: fine
    const extra = { ...copy, body: JSON.stringify({ ...JSON.parse(res.body), extra: 1 }) };
    assert.throws(() => checker.check('POST', '/api/admin/v1/sessions', extra), /OpenAPI drift.*extra/);
    const { 'x-hm-authorization': _token, ...noToken } = copy.headers;
    assert.throws(() => checker.check('POST', '/api/admin/v1/sessions', { ...copy, headers: noToken }), /required header x-hm-authorization is missing/);
    assert.throws(() => checker.check('POST', '/api/admin/v1/sessions', { ...copy, statusCode: 418 }), /status 418 is not documented/);
    const lxcaBody = JSON.stringify({ result: 'failure', messages: [] });
    assert.throws(() => checker.check('GET', '/api/admin/v1/unknown', { statusCode: 404, headers: { 'content-type': 'application/json' }, body: lxcaBody }), /OpenAPI drift — hcx/);
  });

  it('holds the HCX check answered on the fast path (a real socket, before Fastify) to the same document', async () => {
    const login = await h.app.inject({ method: 'POST', url: '/api/admin/v1/sessions', payload: { username: ADMIN.username, password: ADMIN.password } });
    await h.app.listen({ host: '127.0.0.1', port: 0 });
    const addr = h.app.server.address() as { port: number };
    const answered = h.app.fastPath.answered;
    const res = await fetch(`http://127.0.0.1:${addr.port}/api/admin/v1/sessions`, { headers: { 'x-hm-authorization': String(login.headers['x-hm-authorization']) } });
    const body = await res.text();
    assert.equal(res.status, 200, body);
    assert.equal(h.app.fastPath.answered, answered + 1, 'answered on the fast path');
    h.drift.check('GET', '/api/admin/v1/sessions', { statusCode: res.status, headers: headerObject(res.headers), body });
  });
});

describe('GET /docs', () => {
  let h: Harness;
  let adminToken: string;
  let operatorToken: string;
  const remote = '10.9.8.7';
  before(async () => {
    h = await harness();
    await addUser(h, ADMIN.username, ADMIN.password, ADMIN.roles);
    await addUser(h, OPERATOR.username, OPERATOR.password, OPERATOR.roles);
    adminToken = await hcxToken(h, ADMIN);
    operatorToken = await hcxToken(h, OPERATOR);
  });
  after(() => h.close());

  it('shows the viewer and links every dialect\'s document and the reference pages to a loopback client', async () => {
    const res = await h.app.inject({ method: 'GET', url: '/docs' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/html/);
    for (const d of DIALECTS) assert.ok(res.body.includes(`/docs/${d}/openapi.json`), d);
    assert.ok(res.body.includes('/docs/guide/hcx.md'));
    assert.ok(res.body.includes('<script src="/docs/ui/swagger-ui-bundle.js">'));
    assert.ok(!/https?:\/\//.test(res.body.replace(/<a [^>]*>/g, '')), 'nothing from another origin');
    const csp = String(res.headers['content-security-policy']);
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
  });

  it('serves the viewer from the swagger-ui-dist package, and nothing else of it', async () => {
    const js = await h.app.inject({ method: 'GET', url: '/docs/ui/swagger-ui-bundle.js' });
    assert.equal(js.statusCode, 200);
    assert.match(String(js.headers['content-type']), /^text\/javascript/);
    assert.ok(js.body.length > 100_000);
    const init = await h.app.inject({ method: 'GET', url: '/docs/init.js' });
    assert.match(init.body, /"url":"\/docs\/hcx\/openapi.json"/);
    for (const bad of ['/docs/ui/package.json', '/docs/ui/..%2Fpackage.json', '/docs/ui/index.html', '/docs/guide/..%2F..%2Fpackage.json']) {
      const res = await h.app.inject({ method: 'GET', url: bad });
      assert.equal(res.statusCode, 404, bad);
      assert.deepEqual(Object.keys(JSON.parse(res.body)), ['error'], bad);
    }
  });

  it('serves each document as JSON and the reference pages as text', async () => {
    for (const d of DIALECTS) {
      const res = await h.app.inject({ method: 'GET', url: `/docs/${d}/openapi.json` });
      assert.equal(res.statusCode, 200);
      assert.deepEqual(JSON.parse(res.body), h.app.openapi.document(d));
    }
    const nope = await h.app.inject({ method: 'GET', url: '/docs/nope/openapi.json' });
    assert.equal(nope.statusCode, 404);
    for (const name of Object.keys(GUIDE_PAGES)) {
      const res = await h.app.inject({ method: 'GET', url: `/docs/guide/${name}.md` });
      assert.equal(res.statusCode, 200, `docs/${name}.md is linked from /docs`);
    }
    const page = await h.app.inject({ method: 'GET', url: '/docs/guide/configuration.md' });
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /^\[README\]/);
    assert.match(String(page.headers['content-type']), /^text\/plain/);
  });

  it('refuses a remote client without a session (401) or without an administrator role (403), in the admin envelope', async () => {
    const anon = await h.app.inject({ method: 'GET', url: '/docs/hcx/openapi.json', remoteAddress: remote });
    assert.equal(anon.statusCode, 401);
    assert.equal(JSON.parse(anon.body).error.code, 'invalid_session');
    const op = await h.app.inject({ method: 'GET', url: '/docs', remoteAddress: remote, headers: { authorization: `Bearer ${operatorToken}` } });
    assert.equal(op.statusCode, 403);
    assert.equal(JSON.parse(op.body).error.code, 'forbidden');
  });

  it('lets a remote administrator in with a bearer token, x-hm-authorization or the session cookie', async () => {
    for (const headers of [{ authorization: `Bearer ${adminToken}` }, { 'x-hm-authorization': adminToken }, { cookie: `JSESSIONID=${adminToken}` }]) {
      const res = await h.app.inject({ method: 'GET', url: '/docs/lxca/openapi.json', remoteAddress: remote, headers });
      assert.equal(res.statusCode, 200, JSON.stringify(headers));
    }
  });

  it('follows docs.access: public, admin (even on loopback) and off', async () => {
    for (const [access, loopback, remoteStatus] of [['public', 200, 200], ['admin', 401, 401], ['off', 404, 404]] as const) {
      const o = await harness({ overrides: { 'docs.access': access } });
      try {
        assert.equal((await o.app.inject({ method: 'GET', url: '/docs' })).statusCode, loopback, access);
        assert.equal((await o.app.inject({ method: 'GET', url: '/docs/hcx/openapi.json', remoteAddress: remote })).statusCode, remoteStatus, access);
      } finally {
        await o.close();
      }
    }
  });
});

describe('portcullis openapi', () => {
  it('writes the same document /docs serves, and lists the dialects', async () => {
    const dir = tempDir();
    try {
      const env = { ...process.env, PORTCULLIS_CONFIG: '' };
      const list = execFileSync(process.execPath, [CLI, '--data-dir', dir.path, 'openapi'], { env, encoding: 'utf8' });
      assert.deepEqual(list.trim().split('\n').sort(), DIALECTS);
      const out = join(dir.path, 'hcx.json');
      execFileSync(process.execPath, [CLI, '--data-dir', dir.path, 'openapi', 'hcx', '--output', out], { env });
      const h = await harness();
      try {
        assert.deepEqual(JSON.parse(readFileSync(out, 'utf8')), h.app.openapi.document('hcx'));
      } finally {
        await h.close();
      }
      assert.throws(
        () => execFileSync(process.execPath, [CLI, '--data-dir', dir.path, 'openapi', 'nope'], { env, stdio: 'pipe' }),
        (e: { status: number; stderr: Buffer }) => e.status === 2 && /no dialect "nope"/.test(e.stderr.toString()),
      );
    } finally {
      dir.remove();
    }
  });
});

/** A fetch Headers as a plain object (forEach: the DOM typings that preact brings in lack its iterator). */
function headerObject(h: { forEach(fn: (value: string, key: string) => void): void }): Record<string, string> {
  const out: Record<string, string> = {};
  h.forEach((v, k) => (out[k] = v));
  return out;
}
