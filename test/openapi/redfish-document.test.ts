import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_ROLES, addUser, harness, type Harness } from '../helpers.js';
import { DriftChecker } from './drift.js';
import { METADATA_XML } from '../../src/dialects/redfish/schemas.js';

/*
 * The Redfish document (src/dialects/redfish/openapi.ts): every route, the headers
 * DSP0266 asks for, $metadata as XML, and a drift check that can fail on Redfish answers.
 */

type Json = Record<string, any>;
const SESSIONS = '/redfish/v1/SessionService/Sessions';
const ADMIN = { username: 'rfadmin', password: 'Rf-Admin-Pass-1' };

describe('the Redfish OpenAPI document', () => {
  let h: Harness;
  let doc: Json;
  before(async () => {
    h = await harness();
    await addUser(h, ADMIN.username, ADMIN.password, ADMIN_ROLES);
    doc = h.app.openapi.document('redfish') as Json;
  });
  after(() => h.close());

  it('documents every Redfish resource, with and without the trailing slash, and both security schemes', () => {
    for (const p of ['/redfish', '/redfish/v1/', '/redfish/v1', '/redfish/v1/odata', '/redfish/v1/$metadata', '/redfish/v1/SessionService', `${SESSIONS}`, `${SESSIONS}/{id}`,
      '/redfish/v1/AccountService', '/redfish/v1/AccountService/Accounts', '/redfish/v1/AccountService/Accounts/{id}',
      '/redfish/v1/AccountService/Accounts/{id}/Actions/ManagerAccount.ChangePassword', '/redfish/v1/AccountService/Roles', '/redfish/v1/AccountService/Roles/{id}']) {
      assert.ok(doc.paths[p], p);
    }
    assert.deepEqual(Object.keys(doc.paths[`${SESSIONS}/{id}`]).sort(), ['delete', 'get']);
    assert.deepEqual(Object.keys(doc.paths['/redfish/v1/AccountService/Accounts/{id}']).sort(), ['delete', 'get', 'patch']);
    assert.deepEqual(doc.components.securitySchemes.xAuthToken, { type: 'apiKey', in: 'header', name: 'X-Auth-Token', description: doc.components.securitySchemes.xAuthToken.description });
    assert.equal(doc.components.securitySchemes.basic.scheme, 'basic');
    const ids = Object.values(doc.paths as Json).flatMap((ms: Json) => Object.values(ms).map((op: Json) => op.operationId)).filter((x) => x !== undefined);
    assert.equal(new Set(ids).size, ids.length, 'operationIds are unique');
  });

  it('documents the headers: X-Auth-Token and Location on login, ETag and If-Match, Allow, OData-Version, WWW-Authenticate, Retry-After', () => {
    const login = doc.paths[SESSIONS].post;
    assert.equal(login.responses['201'].headers['X-Auth-Token'].required, true);
    assert.equal(login.responses['201'].headers.Location.required, true);
    assert.deepEqual(login.security, []);
    const ss = doc.paths['/redfish/v1/SessionService'];
    assert.equal(ss.get.responses['200'].headers.ETag.required, true);
    assert.equal(ss.get.responses['200'].headers.Allow.schema.const, 'GET, HEAD, PATCH');
    assert.ok(ss.patch.parameters.some((p: Json) => p.name === 'If-Match' && p.in === 'header'));
    assert.ok(ss.patch.responses['412']);
    for (const [status, r] of Object.entries(ss.get.responses as Record<string, Json>)) assert.equal(r.headers['OData-Version'].required, true, status);
    assert.equal(ss.get.responses['401'].headers['WWW-Authenticate'].required, true);
    assert.equal(ss.get.responses['503'].headers['Retry-After'].required, true);
    assert.ok(ss.get.responses['501'], '$-queries are answered 501');
  });

  it('documents $metadata as XML, and the drift check holds the real answer to it', async () => {
    const media = doc.paths['/redfish/v1/$metadata'].get.responses['200'].content;
    assert.deepEqual(Object.keys(media), ['application/xml']);
    assert.equal(media['application/xml'].example, METADATA_XML);
    const before = h.drift.checked.get('redfish') ?? 0;
    const res = await h.app.inject({ method: 'GET', url: '/redfish/v1/$metadata' });
    assert.equal(res.statusCode, 200);
    assert.equal(h.drift.checked.get('redfish'), before + 1);
  });

  it('fails Redfish answers that leave the document: a MessageId under the wrong status, a login without its token, an extra key, a JSON $metadata', async () => {
    const checker = new DriftChecker(h.app);
    const login = await h.app.inject({ method: 'POST', url: SESSIONS, payload: { UserName: ADMIN.username, Password: ADMIN.password } });
    assert.equal(login.statusCode, 201, login.body);
    const copy = { statusCode: 201, headers: { ...login.headers }, body: login.body };
    checker.check('POST', SESSIONS, copy);
    const { 'x-auth-token': _t, ...noToken } = copy.headers;
    assert.throws(() => checker.check('POST', SESSIONS, { ...copy, headers: noToken }), /required header X-Auth-Token is missing/);
    assert.throws(() => checker.check('POST', SESSIONS, { ...copy, body: JSON.stringify({ ...JSON.parse(login.body), Extra: 1 }) }), /OpenAPI drift — redfish.*Extra/);
    const bad = await h.app.inject({ method: 'POST', url: SESSIONS, payload: { UserName: ADMIN.username } });
    assert.equal(bad.statusCode, 400);
    checker.check('POST', SESSIONS, bad);
    assert.throws(() => checker.check('POST', SESSIONS, { ...bad, statusCode: 401, headers: { ...bad.headers, 'www-authenticate': 'Basic realm="Redfish", charset="UTF-8"' } }), /\/error\/code must be equal to one of the allowed values/);
    const meta = await h.app.inject({ method: 'GET', url: '/redfish/v1/$metadata' });
    assert.throws(() => checker.check('GET', '/redfish/v1/$metadata', { ...meta, headers: { ...meta.headers, 'content-type': 'application/json' } }), /content type "application\/json" is not documented/);
  });
});
