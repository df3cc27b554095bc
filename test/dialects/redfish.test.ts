import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { CoreError } from '../../src/core/errors.js';
import { ManualClock } from '../../src/ports/clock.js';
import { BASE_MESSAGES } from '../../src/dialects/redfish/messages.js';
import { redfishRenderer } from '../../src/dialects/redfish/envelope.js';
import { stableUuid } from '../../src/dialects/redfish/schemas.js';
import { ADMIN_ROLES, addUser, harness, type Harness } from '../helpers.js';

/*
 * HTTP contract of the Redfish dialect (DMTF DSP0266, Base message registry 1.16.0),
 * driven through app.inject on a real SQLite store.
 */

const START = Date.UTC(2026, 10, 23, 9, 0, 0);
const ROOT = { username: 'rf-admin', password: 'Rf-Admin-Pass-1', roles: ADMIN_ROLES };
const OPERATOR = { username: 'rf-operator', password: 'Rf-Operator-1', roles: ['Operator'] };
const READER = { username: 'rf-reader', password: 'Rf-Reader-Pass1', roles: ['ReadOnly'] };
const NOBODY = { username: 'rf-auditor', password: 'Rf-Auditor-Pass1', roles: ['Auditor'] };
const SESSIONS = '/redfish/v1/SessionService/Sessions';
const ACCOUNTS = '/redfish/v1/AccountService/Accounts';
const MESSAGE_ID = /^Base\.1\.16\.[A-Za-z]+$/;
const ISO_SECONDS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const STACK_FRAME = /\bat (?:\S+ )?\(?[^\s()]+:\d+:\d+\)?/;

type Json = Record<string, any>;

function json(res: LightMyRequestResponse): Json {
  return JSON.parse(res.body) as Json;
}

/**
 * Keys and JSON types of DMTF's mockup public-rackmount1 (DSP2043, Redfish-Publications),
 * the examples of the schema versions Portcullis declares. `omitted` names what
 * Portcullis does not serve, and why; everything else must be present with the same type.
 */
interface Golden {
  odataType: string;
  keys: Record<string, string>;
  omitted: Record<string, string>;
}

const GOLDEN: Record<string, Golden> = {
  ServiceRoot: {
    odataType: '#ServiceRoot.v1_18_0.ServiceRoot',
    keys: {
      '@odata.type': 'string', Id: 'string', Name: 'string', RedfishVersion: 'string', UUID: 'string', ProtocolFeaturesSupported: 'object',
      SessionService: 'object', AccountService: 'object', Links: 'object', '@odata.id': 'string',
    },
    omitted: Object.fromEntries(
      ['Systems', 'Chassis', 'Managers', 'Tasks', 'EventService', 'Registries', 'UpdateService', 'CertificateService', 'KeyService', 'ComponentIntegrity'].map((k) => [k, 'a login service has no hardware, tasks, events or certificate services']),
    ),
  },
  SessionService: {
    odataType: '#SessionService.v1_2_0.SessionService',
    keys: {
      '@odata.type': 'string', Id: 'string', Name: 'string', Description: 'string', Status: 'object', ServiceEnabled: 'boolean', SessionTimeout: 'number',
      AbsoluteSessionTimeout: 'number', AbsoluteSessionTimeoutEnabled: 'boolean', Sessions: 'object', '@odata.id': 'string',
    },
    omitted: {},
  },
  Session: {
    odataType: '#Session.v1_8_0.Session',
    keys: { '@odata.type': 'string', Id: 'string', Name: 'string', Description: 'string', UserName: 'string', CreatedTime: 'string', ExpirationTime: 'string', '@odata.id': 'string' },
    omitted: {},
  },
  SessionCollection: {
    odataType: '#SessionCollection.SessionCollection',
    keys: { '@odata.type': 'string', Name: 'string', 'Members@odata.count': 'number', Members: 'array', '@odata.id': 'string' },
    omitted: {},
  },
  AccountService: {
    odataType: '#AccountService.v1_18_0.AccountService',
    keys: {
      '@odata.type': 'string', Id: 'string', Name: 'string', Description: 'string', Status: 'object', ServiceEnabled: 'boolean', MinPasswordLength: 'number',
      AccountLockoutThreshold: 'number', AccountLockoutDuration: 'number', AccountLockoutCounterResetAfter: 'number', AccountLockoutCounterResetEnabled: 'boolean',
      EnforcePasswordHistoryCount: 'number', Accounts: 'object', Roles: 'object', RequireChangePasswordAction: 'boolean', '@odata.id': 'string',
    },
    omitted: {
      AuthFailureLoggingThreshold: 'failures are in the audit trail, not a separate log threshold',
      LocalAccountAuth: 'the identity providers are configured per dialect (redfish.provider)',
      MultiFactorAuth: 'not supported',
      LDAP: 'the directory is configured in identity.ldap, not through Redfish',
      ActiveDirectory: 'the directory is configured in identity.ldap, not through Redfish',
      OAuth2: 'not supported',
      AdditionalExternalAccountProviders: 'not supported',
      OutboundConnections: 'not supported',
    },
  },
  ManagerAccount: {
    odataType: '#ManagerAccount.v1_14_0.ManagerAccount',
    keys: {
      '@odata.type': 'string', Id: 'string', Name: 'string', Description: 'string', Enabled: 'boolean', Password: 'null', PasswordChangeRequired: 'boolean',
      AccountTypes: 'array', UserName: 'string', RoleId: 'string', Locked: 'boolean', Links: 'object', Actions: 'object', '@odata.id': 'string',
    },
    omitted: {
      EmailAddress: 'accounts have no contact data', PhoneNumber: 'accounts have no contact data', OneTimePasscodeDeliveryAddress: 'no multi-factor authentication',
      Certificates: 'no certificate authentication',
    },
  },
};

function typeOf(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

function assertGolden(body: Json, name: keyof typeof GOLDEN) {
  const g = GOLDEN[name]!;
  assert.equal(body['@odata.type'], g.odataType, `${name} declares the mockup's schema version`);
  for (const [k, t] of Object.entries(g.keys)) {
    assert.ok(Object.hasOwn(body, k), `${name}.${k} is served`);
    assert.equal(typeOf(body[k]), t, `${name}.${k} is a ${t}`);
  }
  for (const k of Object.keys(g.omitted)) assert.ok(!Object.hasOwn(body, k), `${name}.${k} is documented as not served`);
}

/** Every failure: status, Redfish error envelope, Base registry messages with registry texts, OData-Version. */
function assertError(res: LightMyRequestResponse, status: number, messageKey: keyof typeof BASE_MESSAGES): Json[] {
  assert.equal(res.statusCode, status, res.body);
  assert.match(String(res.headers['content-type']), /^application\/json; charset=utf-8$/);
  assert.equal(res.headers['odata-version'], '4.0');
  const body = json(res);
  assert.deepEqual(Object.keys(body), ['error']);
  assert.deepEqual(Object.keys(body.error), ['code', 'message', '@Message.ExtendedInfo']);
  const infos = body.error['@Message.ExtendedInfo'] as Json[];
  assert.ok(infos.length >= 1);
  for (const m of infos) {
    const keys = ['@odata.type', 'MessageId', ...(Object.hasOwn(m, 'RelatedProperties') ? ['RelatedProperties'] : []), 'Message', 'MessageArgs', 'MessageSeverity', 'Severity', 'Resolution'];
    assert.deepEqual(Object.keys(m), keys);
    if (m.RelatedProperties) for (const p of m.RelatedProperties) assert.match(p, /^#\/[^\s]+$/, 'a JSON pointer');
    assert.match(m.MessageId, MESSAGE_ID);
    const key = m.MessageId.split('.').pop() as keyof typeof BASE_MESSAGES;
    const registry = BASE_MESSAGES[key];
    assert.ok(registry, `${m.MessageId} is a Base registry message`);
    const text = registry.message.replace(/%(\d+)/g, (_x: string, n: string) => m.MessageArgs[Number(n) - 1]);
    assert.equal(m.Message, text, 'the registry text with its arguments');
    assert.equal(m.MessageSeverity, registry.severity);
  }
  assert.equal(infos[0]!.MessageId, `Base.1.16.${messageKey}`);
  // Several messages are summed up as GeneralError in the code only (DSP0266 "Message object").
  assert.equal(body.error.code, infos.length === 1 ? `Base.1.16.${messageKey}` : 'Base.1.16.GeneralError');
  assert.ok(!STACK_FRAME.test(res.body), 'no stack trace');
  assert.ok(!res.body.includes('FST_'), 'no framework error code');
  if (status === 401) assert.match(String(res.headers['www-authenticate']), /^Basic realm="Redfish"/);
  return infos;
}

function basic(user: { username: string; password: string }): string {
  return `Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}`;
}

interface Login {
  token: string;
  id: string;
  location: string;
  body: Json;
}

async function login(h: Harness, user: { username: string; password: string }, headers: Record<string, string> = {}): Promise<Login> {
  const res = await h.app.inject({ method: 'POST', url: SESSIONS, headers, payload: { UserName: user.username, Password: user.password } });
  assert.equal(res.statusCode, 201, res.body);
  const body = json(res);
  return { token: String(res.headers['x-auth-token']), id: body.Id, location: String(res.headers.location), body };
}

function get(h: Harness, url: string, token?: string, headers: Record<string, string> = {}) {
  return h.app.inject({ method: 'GET', url, headers: { ...(token !== undefined && { 'x-auth-token': token }), ...headers } });
}

function patch(h: Harness, url: string, token: string, payload: unknown, headers: Record<string, string> = {}) {
  return h.app.inject({ method: 'PATCH', url, headers: { 'x-auth-token': token, ...headers }, payload: payload as Record<string, unknown> });
}

describe('Redfish dialect (DSP0266)', () => {
  let h: Harness;
  let clock: ManualClock;
  const restore: (() => void)[] = [];

  before(async () => {
    clock = new ManualClock(START);
    h = await harness({ clock });
    for (const u of [ROOT, OPERATOR, READER, NOBODY]) await addUser(h, u.username, u.password, u.roles);
  });
  afterEach(() => {
    for (const r of restore.splice(0).reverse()) r();
  });
  after(() => h.close());

  describe('unauthenticated resources', () => {
    it('GET /redfish answers exactly {"v1":"/redfish/v1/"}', async () => {
      const res = await get(h, '/redfish');
      assert.equal(res.statusCode, 200);
      assert.equal(res.body, '{"v1":"/redfish/v1/"}');
      assert.equal(res.headers['odata-version'], '4.0');
    });

    it('serves the service root at /redfish/v1/ and /redfish/v1 alike, with every key and type of the mockup', async () => {
      const a = await get(h, '/redfish/v1/');
      const b = await get(h, '/redfish/v1');
      assert.equal(a.statusCode, 200);
      assert.equal(b.statusCode, 200);
      assert.deepEqual(json(a), json(b));
      const root = json(a);
      assertGolden(root, 'ServiceRoot');
      assert.equal(root['@odata.id'], '/redfish/v1/');
      assert.match(root.UUID, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.equal(root.SessionService['@odata.id'], '/redfish/v1/SessionService');
      assert.equal(root.AccountService['@odata.id'], '/redfish/v1/AccountService');
      assert.match(String(a.headers.link), /^<https:\/\/redfish\.dmtf\.org\/schemas\/v1\/ServiceRoot\.v1_18_0\.json>; rel=describedby$/);
    });

    it('says truthfully that no query parameter is supported, and answers a $-query with 501', async () => {
      const root = json(await get(h, '/redfish/v1/'));
      const p = root.ProtocolFeaturesSupported;
      assert.equal(p.SelectQuery, false);
      assert.equal(p.FilterQuery, false);
      assert.equal(p.OnlyMemberQuery, false);
      assert.equal(p.ExcerptQuery, false);
      assert.deepEqual(p.ExpandQuery, { ExpandAll: false, Levels: false, Links: false, NoLinks: false });
      assertError(await get(h, '/redfish/v1/?$expand=*'), 501, 'QueryParameterUnsupported');
      // Unknown parameters without $ are ignored (DSP0266).
      assert.equal((await get(h, '/redfish/v1/?foo=bar')).statusCode, 200);
    });

    it('keeps the UUID across restarts: it is derived from the installation, and redfish.uuid overrides it', async () => {
      assert.equal(json(await get(h, '/redfish/v1/')).UUID, stableUuid(h.config.dataDir));
      assert.equal(stableUuid('/var/lib/portcullis', 'node-a'), stableUuid('/var/lib/portcullis', 'node-a'));
      assert.notEqual(stableUuid('/var/lib/portcullis', 'node-a'), stableUuid('/var/lib/portcullis', 'node-b'));
      const fixed = await harness({ overrides: { 'redfish.uuid': '92384634-2938-2342-8820-489239905423' } });
      try {
        assert.equal(json(await get(fixed, '/redfish/v1/')).UUID, '92384634-2938-2342-8820-489239905423');
      } finally {
        await fixed.close();
      }
    });

    it('serves the OData service document and the CSDL $metadata without credentials', async () => {
      const odata = await get(h, '/redfish/v1/odata');
      assert.equal(odata.statusCode, 200);
      const doc = json(odata);
      assert.equal(doc['@odata.context'], '/redfish/v1/$metadata');
      assert.deepEqual(doc.value.map((v: Json) => v.url), ['/redfish/v1/', '/redfish/v1/SessionService', '/redfish/v1/AccountService']);
      const meta = await get(h, '/redfish/v1/$metadata');
      assert.equal(meta.statusCode, 200);
      assert.equal(meta.headers['content-type'], 'application/xml; charset=utf-8');
      assert.equal(meta.headers['odata-version'], '4.0');
      assert.match(meta.body, /<EntityContainer Name="Service" Extends="ServiceRoot\.v1_18_0\.ServiceContainer"\/>/);
      for (const ns of ['Session.v1_8_0', 'SessionService.v1_2_0', 'AccountService.v1_18_0', 'ManagerAccount.v1_14_0', 'Role.v1_3_1']) {
        assert.ok(meta.body.includes(`<edmx:Include Namespace="${ns}"/>`), ns);
      }
    });

    it('refuses every other resource without credentials: 401 NoValidSession with WWW-Authenticate, for reads and writes', async () => {
      const cases: [string, string][] = [
        ['GET', '/redfish/v1/SessionService'],
        ['GET', SESSIONS],
        ['GET', '/redfish/v1/AccountService'],
        ['GET', ACCOUNTS],
        ['GET', '/redfish/v1/AccountService/Roles'],
        ['GET', '/redfish/v1/AccountService/Roles/Administrator'],
        ['HEAD', '/redfish/v1/SessionService'],
        ['PATCH', '/redfish/v1/SessionService'],
        ['POST', ACCOUNTS],
        ['DELETE', `${SESSIONS}/whatever`],
        ['PATCH', `${ACCOUNTS}/${ROOT.username}`],
      ];
      for (const [method, url] of cases) {
        const res = await h.app.inject({ method: method as 'GET', url, ...(method === 'PATCH' || method === 'POST' ? { payload: {} } : {}) });
        if (method === 'HEAD') {
          assert.equal(res.statusCode, 401, `${method} ${url}`);
          assert.equal(res.body, '');
          continue;
        }
        assertError(res, 401, 'NoValidSession');
      }
    });
  });

  describe('sessions', () => {
    it('logs in with 201, Location = @odata.id, X-Auth-Token, no cookie, and the Session body of the mockup', async () => {
      const res = await h.app.inject({ method: 'POST', url: SESSIONS, payload: { UserName: ROOT.username, Password: ROOT.password } });
      assert.equal(res.statusCode, 201, res.body);
      const body = json(res);
      assertGolden(body, 'Session');
      assert.equal(res.headers.location, body['@odata.id']);
      assert.equal(body['@odata.id'], `${SESSIONS}/${body.Id}`);
      assert.equal(res.headers['set-cookie'], undefined, 'the token is the credential, never a cookie');
      assert.match(String(res.headers['x-auth-token']), /^[A-Za-z0-9_-]{43}$/);
      assert.equal(body.UserName, ROOT.username);
      assert.equal(body.Password, null);
      assert.equal(body.SessionType, 'Redfish');
      assert.equal(body.ClientOriginIPAddress, '127.0.0.1');
      assert.equal(body.CreatedTime, '2026-11-23T09:00:00Z');
      assert.match(body.ExpirationTime, ISO_SECONDS);
      assert.equal(res.headers['odata-version'], '4.0');
      assert.ok(!res.body.includes(ROOT.password));
    });

    it('the token reads its own session, and a HEAD answers the same headers without a body', async () => {
      const me = await login(h, OPERATOR);
      const res = await get(h, me.location, me.token);
      assert.equal(res.statusCode, 200);
      assert.deepEqual(json(res), me.body);
      assert.equal(res.headers.allow, 'GET, HEAD, DELETE');
      const head = await h.app.inject({ method: 'HEAD', url: me.location, headers: { 'x-auth-token': me.token } });
      assert.equal(head.statusCode, 200);
      assert.equal(head.body, '');
      assert.equal(head.headers['odata-version'], '4.0');
      assert.equal(head.headers.allow, 'GET, HEAD, DELETE');
    });

    it('refuses a wrong password with 401 NoValidSession and WWW-Authenticate, never echoing the password', async () => {
      const wrong = 'Wrong-Secret-Value-77';
      const res = await h.app.inject({ method: 'POST', url: SESSIONS, payload: { UserName: OPERATOR.username, Password: wrong } });
      assertError(res, 401, 'NoValidSession');
      assert.ok(!res.body.includes(wrong));
      assert.equal(res.headers['x-auth-token'], undefined);
    });

    it('names every missing, mistyped and unknown property, and refuses malformed or empty bodies, without echoing the password', async () => {
      const missing = assertError(await h.app.inject({ method: 'POST', url: SESSIONS, payload: {} }), 400, 'PropertyMissing');
      assert.deepEqual(missing.map((m) => m.MessageArgs), [['UserName'], ['Password']]);
      assert.deepEqual(missing.map((m) => m.RelatedProperties), [['#/UserName'], ['#/Password']]);
      const typed = await h.app.inject({ method: 'POST', url: SESSIONS, payload: { UserName: 7, Password: 12345678 } });
      const infos = assertError(typed, 400, 'PropertyValueTypeError');
      assert.deepEqual(infos.map((m) => m.MessageId), ['Base.1.16.PropertyValueTypeError', 'Base.1.16.PropertyValueError']);
      assert.ok(!typed.body.includes('12345678'));
      const unknown = assertError(await h.app.inject({ method: 'POST', url: SESSIONS, payload: { UserName: 'a', Password: 'b', Domain: 'x' } }), 400, 'PropertyUnknown');
      assert.deepEqual(unknown[0]!.MessageArgs, ['Domain']);
      const malformed = await h.app.inject({ method: 'POST', url: SESSIONS, headers: { 'content-type': 'application/json' }, payload: `{"UserName":"a","Password":"${ROOT.password}"` });
      assertError(malformed, 400, 'MalformedJSON');
      assert.ok(!malformed.body.includes(ROOT.password));
      assertError(await h.app.inject({ method: 'POST', url: SESSIONS, headers: { 'content-type': 'application/json' }, payload: '[1,2]' }), 400, 'MalformedJSON');
      assertError(await h.app.inject({ method: 'POST', url: SESSIONS, headers: { 'content-type': 'application/json' }, payload: '' }), 400, 'EmptyJSON');
    });

    it('parses a login body without Content-Type as JSON (as field clients send it)', async () => {
      const res = await h.app.inject({ method: 'POST', url: SESSIONS, payload: JSON.stringify({ UserName: READER.username, Password: READER.password }) });
      assert.equal(res.statusCode, 201, res.body);
    });

    it('refuses a user with no Redfish role with 403 InsufficientPrivilege', async () => {
      assertError(await h.app.inject({ method: 'POST', url: SESSIONS, payload: { UserName: NOBODY.username, Password: NOBODY.password } }), 403, 'InsufficientPrivilege');
    });

    it('lists every session to an administrator and only their own to others, with Members@odata.count', async () => {
      const admin = await login(h, ROOT);
      const op = await login(h, OPERATOR);
      const all = json(await get(h, SESSIONS, admin.token));
      assertGolden(all, 'SessionCollection');
      assert.equal(all['Members@odata.count'], all.Members.length);
      const ids = all.Members.map((m: Json) => m['@odata.id']);
      assert.ok(ids.includes(admin.location) && ids.includes(op.location));
      const mine = json(await get(h, SESSIONS, op.token));
      const live = await h.p.sessions.listSessions({ username: OPERATOR.username });
      assert.deepEqual(mine.Members.map((m: Json) => m['@odata.id']).sort(), live.map((s) => `${SESSIONS}/${s.id}`).sort());
      assert.equal(mine['Members@odata.count'], live.length);
    });

    it("forbids reading or ending another user's session without ConfigureManager (403), and 404s an unknown one", async () => {
      const admin = await login(h, ROOT);
      const op = await login(h, OPERATOR);
      assertError(await get(h, admin.location, op.token), 403, 'InsufficientPrivilege');
      assertError(await h.app.inject({ method: 'DELETE', url: admin.location, headers: { 'x-auth-token': op.token } }), 403, 'InsufficientPrivilege');
      assert.equal((await get(h, admin.location, admin.token)).statusCode, 200, 'the session is still alive');
      assertError(await get(h, `${SESSIONS}/no-such-session`, admin.token), 404, 'ResourceNotFound');
      // An administrator may end anyone's session.
      const res = await h.app.inject({ method: 'DELETE', url: op.location, headers: { 'x-auth-token': admin.token } });
      assert.equal(res.statusCode, 200, res.body);
      assertError(await get(h, SESSIONS, op.token), 401, 'NoValidSession');
    });

    it('logs out with DELETE of the own session: 200 with SessionTerminated, and the token is dead', async () => {
      const me = await login(h, READER);
      const res = await h.app.inject({ method: 'DELETE', url: me.location, headers: { 'x-auth-token': me.token } });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(json(res)['@Message.ExtendedInfo'][0].MessageId, 'Base.1.16.SessionTerminated');
      assertError(await get(h, me.location, me.token), 401, 'NoValidSession');
      assert.equal(await h.p.sessions.getSession(me.id), null);
    });

    it('accepts HTTP Basic on every protected resource without making a session', async () => {
      const before = (await h.p.sessions.listSessions()).length;
      const res = await get(h, '/redfish/v1/SessionService', undefined, { authorization: basic(OPERATOR) });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal((await h.p.sessions.listSessions()).length, before);
      assertError(await get(h, '/redfish/v1/SessionService', undefined, { authorization: basic({ ...OPERATOR, password: 'nope-nope-nope' }) }), 401, 'NoValidSession');
    });

    it('never authenticates with a cookie, not even a live token in one (DSP0266 forbids cookie authentication)', async () => {
      const me = await login(h, OPERATOR);
      assertError(await get(h, '/redfish/v1/SessionService', undefined, { cookie: `JSESSIONID=${me.token}` }), 401, 'NoValidSession');
      assertError(await get(h, '/redfish/v1/SessionService', 'not-a-token'), 401, 'NoValidSession');
    });

    it('refuses a login beyond MaxConcurrentSessions with 403 SessionLimitExceeded', async () => {
      const user = { username: 'rf-limited', password: 'Rf-Limited-Pass1', roles: ['Operator'] };
      await addUser(h, user.username, user.password, user.roles);
      await h.p.settings.set({ MaxConcurrentSessions: 1 });
      restore.push(() => void h.p.settings.set({ MaxConcurrentSessions: 0 }));
      await login(h, user);
      const res = await h.app.inject({ method: 'POST', url: SESSIONS, payload: { UserName: user.username, Password: user.password } });
      assertError(res, 403, 'SessionLimitExceeded');
      await h.p.settings.set({ MaxConcurrentSessions: 0 });
    });

    it('refuses credentials sent over plain HTTP through a proxy that says so (X-Forwarded-Proto: http)', async () => {
      const proxied = await harness({ overrides: { trustProxy: true } });
      try {
        await addUser(proxied, OPERATOR.username, OPERATOR.password, OPERATOR.roles);
        const payload = { UserName: OPERATOR.username, Password: OPERATOR.password };
        const plain = await proxied.app.inject({ method: 'POST', url: SESSIONS, headers: { 'x-forwarded-proto': 'http' }, payload });
        assertError(plain, 403, 'GeneralError');
        assert.equal((await proxied.p.sessions.listSessions()).length, 0, 'no session was made');
        assertError(await get(proxied, '/redfish/v1/SessionService', undefined, { authorization: basic(OPERATOR), 'x-forwarded-proto': 'http' }), 403, 'GeneralError');
        const secure = await proxied.app.inject({ method: 'POST', url: SESSIONS, headers: { 'x-forwarded-proto': 'https' }, payload });
        assert.equal(secure.statusCode, 201, secure.body);
      } finally {
        await proxied.close();
      }
    });
  });

  describe('SessionService', () => {
    it('has the mockup keys and types; SessionTimeout is the shared inactivity setting in seconds; Links.Sessions is the same URI', async () => {
      const admin = await login(h, ROOT);
      const res = await get(h, '/redfish/v1/SessionService', admin.token);
      const svc = json(res);
      assertGolden(svc, 'SessionService');
      assert.equal(svc.SessionTimeout, (await h.p.settings.get()).InactivityTimeout * 60);
      assert.equal(svc.Sessions['@odata.id'], json(await get(h, '/redfish/v1/')).Links.Sessions['@odata.id']);
      assert.match(String(res.headers.etag), /^"[A-Za-z0-9_-]+"$/);
    });

    it('PATCH SessionTimeout by an administrator changes the policy XClarity shows, and the next login uses it', async () => {
      const admin = await login(h, ROOT);
      const res = await patch(h, '/redfish/v1/SessionService', admin.token, { SessionTimeout: 600 });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(json(res).SessionTimeout, 600);
      assert.equal((await h.p.settings.get()).InactivityTimeout, 10);
      const lx = await h.app.inject({ method: 'POST', url: '/sessions', payload: { UserId: ROOT.username, password: ROOT.password } });
      const cookie = String(lx.headers['set-cookie']).split(';')[0]!;
      const settings = json(await h.app.inject({ method: 'GET', url: '/userAccountSettings', headers: { cookie } }));
      assert.equal(settings.response.InactivityTimeout, 10);
      const next = await login(h, OPERATOR);
      assert.equal(Date.parse(next.body.ExpirationTime) - Date.parse(next.body.CreatedTime), 600_000);
      // And the other way: an XClarity change shows here.
      await h.p.settings.set({ InactivityTimeout: 24 });
      assert.equal(json(await get(h, '/redfish/v1/SessionService', admin.token)).SessionTimeout, 1440);
    });

    it('rounds a timeout that is not whole minutes and says so with PropertyValueModified', async () => {
      const admin = await login(h, ROOT);
      const res = await patch(h, '/redfish/v1/SessionService', admin.token, { SessionTimeout: 90 });
      assert.equal(res.statusCode, 200, res.body);
      const body = json(res);
      assert.equal(body.SessionTimeout, 120);
      assert.equal(body['@Message.ExtendedInfo'][0].MessageId, 'Base.1.16.PropertyValueModified');
      assert.deepEqual(body['@Message.ExtendedInfo'][0].MessageArgs, ['SessionTimeout', '120']);
      await h.p.settings.set({ InactivityTimeout: 24 });
    });

    it('refuses out-of-range, mistyped, read-only and unknown properties, changing nothing', async () => {
      const admin = await login(h, ROOT);
      assertError(await patch(h, '/redfish/v1/SessionService', admin.token, { SessionTimeout: 29 }), 400, 'PropertyValueOutOfRange');
      assertError(await patch(h, '/redfish/v1/SessionService', admin.token, { SessionTimeout: 86401 }), 400, 'PropertyValueOutOfRange');
      assertError(await patch(h, '/redfish/v1/SessionService', admin.token, { SessionTimeout: '600' }), 400, 'PropertyValueTypeError');
      assertError(await patch(h, '/redfish/v1/SessionService', admin.token, { SessionTimeout: 600.5 }), 400, 'PropertyValueTypeError');
      assertError(await patch(h, '/redfish/v1/SessionService', admin.token, { ServiceEnabled: false }), 400, 'PropertyNotWritable');
      assertError(await patch(h, '/redfish/v1/SessionService', admin.token, { Bogus: 1 }), 400, 'PropertyUnknown');
      assertError(await patch(h, '/redfish/v1/SessionService', admin.token, { SessionTimeout: 600, Bogus: 1 }), 400, 'PropertyUnknown');
      assertError(await patch(h, '/redfish/v1/SessionService', admin.token, {}), 400, 'NoOperation');
      assertError(await patch(h, '/redfish/v1/SessionService', admin.token, { '@odata.type': '#SessionService.v1_2_0.SessionService' }), 400, 'NoOperation');
      assert.equal((await h.p.settings.get()).InactivityTimeout, 24);
    });

    it('honours If-Match: 412 PreconditionFailed when stale, 200 with the current ETag', async () => {
      const admin = await login(h, ROOT);
      const first = await get(h, '/redfish/v1/SessionService', admin.token);
      const etag = String(first.headers.etag);
      await h.p.settings.set({ InactivityTimeout: 30 });
      assertError(await patch(h, '/redfish/v1/SessionService', admin.token, { SessionTimeout: 600 }, { 'if-match': etag }), 412, 'PreconditionFailed');
      assert.equal((await h.p.settings.get()).InactivityTimeout, 30);
      const fresh = String((await get(h, '/redfish/v1/SessionService', admin.token)).headers.etag);
      assert.notEqual(fresh, etag);
      const ok = await patch(h, '/redfish/v1/SessionService', admin.token, { SessionTimeout: 1440 }, { 'if-match': fresh });
      assert.equal(ok.statusCode, 200, ok.body);
      assert.notEqual(ok.headers.etag, fresh);
    });

    it('forbids the PATCH to an Operator and a ReadOnly user (ConfigureManager)', async () => {
      for (const u of [OPERATOR, READER]) {
        const me = await login(h, u);
        assertError(await patch(h, '/redfish/v1/SessionService', me.token, { SessionTimeout: 600 }), 403, 'InsufficientPrivilege');
      }
      assert.equal((await h.p.settings.get()).InactivityTimeout, 24);
    });
  });

  describe('AccountService', () => {
    it('has the mockup keys and types and mirrors the shared lockout settings', async () => {
      const me = await login(h, READER);
      await h.p.settings.set({ MaximumLoginFailures: 7, LockoutTime: 15, MinimumPasswordLength: 10 });
      const svc = json(await get(h, '/redfish/v1/AccountService', me.token));
      assertGolden(svc, 'AccountService');
      assert.equal(svc.AccountLockoutThreshold, 7);
      assert.equal(svc.AccountLockoutDuration, 900);
      assert.equal(svc.AccountLockoutCounterResetAfter, 3600);
      assert.equal(svc.MinPasswordLength, 10);
      // LockoutTime 0 (until unlocked) has no Redfish equivalent (0 there means "no lockout"): left out.
      await h.p.settings.set({ LockoutTime: 0 });
      assert.ok(!Object.hasOwn(json(await get(h, '/redfish/v1/AccountService', me.token)), 'AccountLockoutDuration'));
      await h.p.settings.set({ MaximumLoginFailures: 20, LockoutTime: 60, MinimumPasswordLength: 8 });
    });

    it('lists the three predefined roles with their DSP0266 privileges, which cannot be modified', async () => {
      const me = await login(h, READER);
      const roles = json(await get(h, '/redfish/v1/AccountService/Roles', me.token));
      assert.deepEqual(roles.Members.map((m: Json) => m['@odata.id'].split('/').pop()), ['Administrator', 'Operator', 'ReadOnly']);
      assert.equal(roles['Members@odata.count'], 3);
      const expect: Record<string, string[]> = {
        Administrator: ['Login', 'ConfigureManager', 'ConfigureUsers', 'ConfigureSelf', 'ConfigureComponents'],
        Operator: ['Login', 'ConfigureSelf', 'ConfigureComponents'],
        ReadOnly: ['Login', 'ConfigureSelf'],
      };
      for (const [id, privs] of Object.entries(expect)) {
        const role = json(await get(h, `/redfish/v1/AccountService/Roles/${id}`, me.token));
        assert.equal(role['@odata.type'], '#Role.v1_3_1.Role');
        assert.equal(role.IsPredefined, true);
        assert.deepEqual(role.AssignedPrivileges, privs);
      }
      const admin = await login(h, ROOT);
      const res = await patch(h, '/redfish/v1/AccountService/Roles/ReadOnly', admin.token, { AssignedPrivileges: ['Login'] });
      assertError(res, 405, 'OperationNotAllowed');
      assert.equal(res.headers.allow, 'GET, HEAD');
      assertError(await get(h, '/redfish/v1/AccountService/Roles/Superuser', me.token), 404, 'ResourceNotFound');
    });

    it('shows an administrator every local account and anyone else only their own', async () => {
      const admin = await login(h, ROOT);
      const all = json(await get(h, ACCOUNTS, admin.token));
      const names = (await h.p.accounts.list()).map((a) => `${ACCOUNTS}/${encodeURIComponent(a.username)}`);
      assert.deepEqual(all.Members.map((m: Json) => m['@odata.id']).sort(), names.sort());
      const op = await login(h, OPERATOR);
      assert.deepEqual(json(await get(h, ACCOUNTS, op.token)).Members, [{ '@odata.id': `${ACCOUNTS}/${OPERATOR.username}` }]);
      const mine = await get(h, `${ACCOUNTS}/${OPERATOR.username}`, op.token);
      assertGolden(json(mine), 'ManagerAccount');
      assert.equal(json(mine).RoleId, 'Operator');
      assert.match(String(mine.headers.etag), /^"[A-Za-z0-9_-]+"$/);
      assertError(await get(h, `${ACCOUNTS}/${ROOT.username}`, op.token), 403, 'InsufficientPrivilege');
    });

    it('maps roles through redfish.roleMap and picks the most privileged', async () => {
      const both = { username: 'rf-both', password: 'Rf-Both-Pass-1', roles: ['ReadOnly', 'Operator'] };
      await addUser(h, both.username, both.password, both.roles);
      const admin = await login(h, ROOT);
      assert.equal(json(await get(h, `${ACCOUNTS}/${both.username}`, admin.token)).RoleId, 'Operator');
      assert.equal(json(await get(h, `${ACCOUNTS}/${ROOT.username}`, admin.token)).RoleId, 'Administrator');
      const none = json(await get(h, `${ACCOUNTS}/${NOBODY.username}`, admin.token));
      assert.ok(!Object.hasOwn(none, 'RoleId'), 'an account without a Redfish role has no invented RoleId');
    });
  });

  describe('account administration (the same rules as the CLI)', () => {
    it('creates an account with 201 and Location; it can log in with its role; a duplicate is 409', async () => {
      const admin = await login(h, ROOT);
      const res = await h.app.inject({ method: 'POST', url: ACCOUNTS, headers: { 'x-auth-token': admin.token }, payload: { UserName: 'rf-new', Password: 'Rf-New-Pass-1', RoleId: 'Operator' } });
      assert.equal(res.statusCode, 201, res.body);
      assert.equal(res.headers.location, `${ACCOUNTS}/rf-new`);
      const body = json(res);
      assertGolden(body, 'ManagerAccount');
      assert.equal(body.RoleId, 'Operator');
      assert.ok(!res.body.includes('Rf-New-Pass-1'));
      assert.deepEqual((await h.p.accounts.get('rf-new')).roles, ['Operator']);
      const me = await login(h, { username: 'rf-new', password: 'Rf-New-Pass-1' });
      assert.equal(json(await get(h, `${ACCOUNTS}/rf-new`, me.token)).UserName, 'rf-new');
      const again = await h.app.inject({ method: 'POST', url: ACCOUNTS, headers: { 'x-auth-token': admin.token }, payload: { UserName: 'rf-new', Password: 'Rf-New-Pass-2', RoleId: 'ReadOnly' } });
      assertError(again, 409, 'ResourceAlreadyExists');
      const audit = await h.p.audit.query({ username: 'rf-new' });
      assert.ok(audit.some((e) => e.kind === 'account.create'));
    });

    it('refuses bad new accounts naming the property, never echoing a password', async () => {
      const admin = await login(h, ROOT);
      const post = (payload: Json) => h.app.inject({ method: 'POST', url: ACCOUNTS, headers: { 'x-auth-token': admin.token }, payload });
      const missing = assertError(await post({ UserName: 'x1' }), 400, 'PropertyMissing');
      assert.deepEqual(missing.map((m) => m.MessageArgs[0]), ['Password', 'RoleId']);
      assertError(await post({ UserName: 'x1', Password: 'Long-Enough-1', RoleId: 'Superuser' }), 400, 'PropertyValueNotInList');
      const short = await post({ UserName: 'x1', Password: 'Sh0rt', RoleId: 'ReadOnly' });
      assertError(short, 400, 'PropertyValueError');
      assert.ok(!short.body.includes('Sh0rt'));
      assert.match(json(short).error.message, /at least 8 characters/);
      assertError(await post({ UserName: 'x1', Password: 'Long-Enough-1', RoleId: 'ReadOnly', Email: 'a@b' }), 400, 'PropertyUnknown');
      assertError(await post({ UserName: 'x1', Password: 'Long-Enough-1', RoleId: 'ReadOnly', AccountTypes: ['IPMI'] }), 400, 'PropertyValueNotInList');
      await assert.rejects(h.p.accounts.get('x1'));
    });

    it('forbids account administration to an Operator and a ReadOnly user (403 InsufficientPrivilege)', async () => {
      for (const u of [OPERATOR, READER]) {
        const me = await login(h, u);
        assertError(await h.app.inject({ method: 'POST', url: ACCOUNTS, headers: { 'x-auth-token': me.token }, payload: { UserName: 'evil', Password: 'Evil-Pass-123', RoleId: 'Administrator' } }), 403, 'InsufficientPrivilege');
        assertError(await patch(h, `${ACCOUNTS}/${ROOT.username}`, me.token, { Password: 'Taken-Over-123' }), 403, 'InsufficientPrivilege');
        assertError(await patch(h, `${ACCOUNTS}/${u.username}`, me.token, { RoleId: 'Administrator' }), 403, 'InsufficientPrivilege');
        assertError(await h.app.inject({ method: 'DELETE', url: `${ACCOUNTS}/${ROOT.username}`, headers: { 'x-auth-token': me.token } }), 403, 'InsufficientPrivilege');
      }
      assert.deepEqual((await h.p.accounts.get(OPERATOR.username)).roles, ['Operator']);
      await login(h, ROOT); // the administrator's password is unchanged
    });

    it('lets anyone change their own password (ConfigureSelf): other sessions end, this one stays', async () => {
      const user = { username: 'rf-self', password: 'Rf-Self-Pass-1', roles: ['ReadOnly'] };
      await addUser(h, user.username, user.password, user.roles);
      const a = await login(h, user);
      const b = await login(h, user);
      const res = await patch(h, `${ACCOUNTS}/${user.username}`, a.token, { Password: 'Rf-Self-Pass-2' });
      assert.equal(res.statusCode, 200, res.body);
      assert.ok(!res.body.includes('Rf-Self-Pass-2'));
      assert.equal((await get(h, a.location, a.token)).statusCode, 200);
      assertError(await get(h, b.location, b.token), 401, 'NoValidSession');
      await login(h, { ...user, password: 'Rf-Self-Pass-2' });
      // The password rules are the core's: reuse is refused.
      assertError(await patch(h, `${ACCOUNTS}/${user.username}`, a.token, { Password: user.password }), 400, 'PropertyValueError');
    });

    it('an administrator changes role, disables, unlocks and deletes; role changes and disabling end the sessions', async () => {
      const admin = await login(h, ROOT);
      const user = { username: 'rf-managed', password: 'Rf-Managed-Pass1', roles: ['ReadOnly'] };
      await addUser(h, user.username, user.password, user.roles);
      const url = `${ACCOUNTS}/${user.username}`;
      let s = await login(h, user);
      const promoted = await patch(h, url, admin.token, { RoleId: 'Operator' });
      assert.equal(promoted.statusCode, 200, promoted.body);
      assert.equal(json(promoted).RoleId, 'Operator');
      assert.deepEqual((await h.p.accounts.get(user.username)).roles, ['Operator']);
      assertError(await get(h, s.location, s.token), 401, 'NoValidSession');
      s = await login(h, user);
      const disabled = await patch(h, url, admin.token, { Enabled: false });
      assert.equal(json(disabled).Enabled, false);
      assertError(await get(h, s.location, s.token), 401, 'NoValidSession');
      assertError(await h.app.inject({ method: 'POST', url: SESSIONS, payload: { UserName: user.username, Password: user.password } }), 401, 'NoValidSession');
      await patch(h, url, admin.token, { Enabled: true });
      assertError(await patch(h, url, admin.token, { Locked: true }), 400, 'PropertyValueNotInList');
      assertError(await patch(h, url, admin.token, { UserName: 'renamed' }), 400, 'PropertyNotWritable');
      assert.equal(json(await patch(h, url, admin.token, { Locked: false })).Locked, false);
      const del = await h.app.inject({ method: 'DELETE', url, headers: { 'x-auth-token': admin.token } });
      assert.equal(del.statusCode, 200, del.body);
      assert.equal(json(del)['@Message.ExtendedInfo'][0].MessageId, 'Base.1.16.AccountRemoved');
      assertError(await get(h, url, admin.token), 404, 'ResourceNotFound');
    });

    it("an administrator's reset of another's password ends their sessions; PasswordChangeRequired forces a change", async () => {
      const admin = await login(h, ROOT);
      const user = { username: 'rf-reset', password: 'Rf-Reset-Pass-1', roles: ['Operator'] };
      await addUser(h, user.username, user.password, user.roles);
      const s = await login(h, user);
      const res = await patch(h, `${ACCOUNTS}/${user.username}`, admin.token, { Password: 'Rf-Reset-Pass-2', PasswordChangeRequired: true });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(json(res).PasswordChangeRequired, true);
      assertError(await get(h, s.location, s.token), 401, 'NoValidSession');
      const again = await login(h, { ...user, password: 'Rf-Reset-Pass-2' });
      assert.equal(again.body['@Message.ExtendedInfo'][0].MessageId, 'Base.1.16.PasswordChangeRequired');
    });

    it('PasswordChangeRequired: true alone puts the account and its live sessions under the forced change', async () => {
      const admin = await login(h, ROOT);
      const user = { username: 'rf-marked', password: 'Rf-Marked-Pass-1', roles: ['ReadOnly'] };
      await addUser(h, user.username, user.password, user.roles);
      const s = await login(h, user);
      const res = await patch(h, `${ACCOUNTS}/${user.username}`, admin.token, { PasswordChangeRequired: true });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(json(res).PasswordChangeRequired, true);
      assertError(await get(h, '/redfish/v1/SessionService', s.token), 403, 'PasswordChangeRequired');
      const changed = await patch(h, `${ACCOUNTS}/${user.username}`, s.token, { Password: 'Rf-Marked-Pass-2' });
      assert.equal(changed.statusCode, 200, changed.body);
      assert.equal((await get(h, '/redfish/v1/SessionService', s.token)).statusCode, 200);
    });

    it('ManagerAccount.ChangePassword on the own account needs the current password; other sessions end, this one stays', async () => {
      const user = { username: 'rf-action', password: 'Rf-Action-Pass-1', roles: ['ReadOnly'] };
      await addUser(h, user.username, user.password, user.roles, { mustChangePassword: true });
      const a = await login(h, user);
      const b = await login(h, user);
      const own = json(await get(h, `${ACCOUNTS}/${user.username}`, a.token));
      const target = own.Actions['#ManagerAccount.ChangePassword'].target;
      assert.equal(target, `${ACCOUNTS}/${user.username}/Actions/ManagerAccount.ChangePassword`);
      const post = (token: string, payload: Json) => h.app.inject({ method: 'POST', url: target, headers: { 'x-auth-token': token }, payload });
      const wrong = await post(a.token, { NewPassword: 'Rf-Action-Pass-2', SessionAccountPassword: 'not-my-password' });
      assertError(wrong, 400, 'ActionParameterValueError');
      assert.ok(!wrong.body.includes('not-my-password') && !wrong.body.includes('Rf-Action-Pass-2'));
      assertError(await post(a.token, { NewPassword: 'Rf-Action-Pass-2' }), 400, 'ActionParameterMissing');
      assertError(await post(a.token, { NewPassword: 'short', SessionAccountPassword: user.password }), 400, 'ActionParameterValueError');
      const ok = await post(a.token, { NewPassword: 'Rf-Action-Pass-2', SessionAccountPassword: user.password });
      assert.equal(ok.statusCode, 200, ok.body);
      assert.equal(json(ok)['@Message.ExtendedInfo'][0].MessageId, 'Base.1.16.Success');
      assert.equal((await get(h, '/redfish/v1/SessionService', a.token)).statusCode, 200, 'the must-change session may now do everything');
      assertError(await get(h, b.location, b.token), 401, 'NoValidSession');
      await login(h, { ...user, password: 'Rf-Action-Pass-2' });
    });

    it("ManagerAccount.ChangePassword on another's account needs ConfigureUsers and the caller's own password", async () => {
      const admin = await login(h, ROOT);
      const op = await login(h, OPERATOR);
      const target = { username: 'rf-target', password: 'Rf-Target-Pass-1', roles: ['ReadOnly'] };
      await addUser(h, target.username, target.password, target.roles);
      const url = `${ACCOUNTS}/${target.username}/Actions/ManagerAccount.ChangePassword`;
      const post = (token: string, payload: Json) => h.app.inject({ method: 'POST', url, headers: { 'x-auth-token': token }, payload });
      assertError(await post(op.token, { NewPassword: 'Rf-Target-Pass-9', SessionAccountPassword: OPERATOR.password }), 403, 'InsufficientPrivilege');
      assertError(await post(admin.token, { NewPassword: 'Rf-Target-Pass-9', SessionAccountPassword: target.password }), 400, 'ActionParameterValueError');
      const ok = await post(admin.token, { NewPassword: 'Rf-Target-Pass-9', SessionAccountPassword: ROOT.password });
      assert.equal(ok.statusCode, 200, ok.body);
      await login(h, { ...target, password: 'Rf-Target-Pass-9' });
    });

    it('honours If-Match on accounts: a stale ETag is 412 and nothing changes', async () => {
      const admin = await login(h, ROOT);
      const url = `${ACCOUNTS}/${READER.username}`;
      const etag = String((await get(h, url, admin.token)).headers.etag);
      await h.p.accounts.update(READER.username, { roles: ['ReadOnly', 'Operator'] });
      assertError(await patch(h, url, admin.token, { Enabled: false }, { 'if-match': etag }), 412, 'PreconditionFailed');
      assert.equal((await h.p.accounts.get(READER.username)).disabled, false);
      const fresh = String((await get(h, url, admin.token)).headers.etag);
      assert.equal((await patch(h, url, admin.token, { RoleId: 'ReadOnly' }, { 'if-match': fresh })).statusCode, 200);
    });
  });

  describe('forced password change (DSP0266 "PasswordChangeRequired")', () => {
    const FRESH = { username: 'rf-fresh', password: 'Rf-Fresh-Pass-1', roles: ['Operator'] };

    before(async () => {
      await addUser(h, FRESH.username, FRESH.password, FRESH.roles, { mustChangePassword: true });
    });

    it('logs in with 201 and the PasswordChangeRequired message naming the account URI; everything else is 403 with it', async () => {
      const me = await login(h, FRESH);
      const info = me.body['@Message.ExtendedInfo'];
      assert.equal(info.length, 1);
      assert.equal(info[0].MessageId, 'Base.1.16.PasswordChangeRequired');
      assert.deepEqual(info[0].MessageArgs, [`${ACCOUNTS}/${FRESH.username}`]);
      for (const url of ['/redfish/v1/SessionService', SESSIONS, me.location, '/redfish/v1/AccountService', ACCOUNTS, '/redfish/v1/AccountService/Roles']) {
        const infos = assertError(await get(h, url, me.token), 403, 'PasswordChangeRequired');
        assert.deepEqual(infos[0]!.MessageArgs, [`${ACCOUNTS}/${FRESH.username}`]);
      }
      assertError(await patch(h, `${ACCOUNTS}/${FRESH.username}`, me.token, { RoleId: 'Administrator' }), 403, 'PasswordChangeRequired');
      assertError(await patch(h, `${ACCOUNTS}/${FRESH.username}`, me.token, { Password: 'Rf-Fresh-Pass-9', Enabled: true }), 403, 'PasswordChangeRequired');
      // Basic is under the same gate.
      assertError(await get(h, '/redfish/v1/SessionService', undefined, { authorization: basic(FRESH) }), 403, 'PasswordChangeRequired');
      // Reading the own account is allowed (to find the Password property).
      const own = await get(h, `${ACCOUNTS}/${FRESH.username}`, me.token);
      assert.equal(own.statusCode, 200, own.body);
      assert.equal(json(own).PasswordChangeRequired, true);
    });

    it('the same session changes its Password with PATCH, may then do everything, and the account no longer must change', async () => {
      const me = await login(h, FRESH);
      const res = await patch(h, `${ACCOUNTS}/${FRESH.username}`, me.token, { Password: 'Rf-Fresh-Pass-2' });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(json(res).PasswordChangeRequired, false);
      assert.equal((await get(h, '/redfish/v1/SessionService', me.token)).statusCode, 200);
      const next = await login(h, { ...FRESH, password: 'Rf-Fresh-Pass-2' });
      assert.ok(!Object.hasOwn(next.body, '@Message.ExtendedInfo'));
    });

    it('logout stays allowed while the password must change', async () => {
      const user = { username: 'rf-fresh2', password: 'Rf-Fresh2-Pass1', roles: ['ReadOnly'] };
      await addUser(h, user.username, user.password, user.roles, { mustChangePassword: true });
      const me = await login(h, user);
      const res = await h.app.inject({ method: 'DELETE', url: me.location, headers: { 'x-auth-token': me.token } });
      assert.equal(res.statusCode, 200, res.body);
    });
  });

  describe('privileges per role', () => {
    /** [method, url, body, Administrator, Operator, ReadOnly]: expected statuses. */
    const MATRIX: [string, string, Json | undefined, number, number, number][] = [
      ['GET', '/redfish/v1/SessionService', undefined, 200, 200, 200],
      ['PATCH', '/redfish/v1/SessionService', { SessionTimeout: 1440 }, 200, 403, 403],
      ['GET', SESSIONS, undefined, 200, 200, 200],
      ['GET', '/redfish/v1/AccountService', undefined, 200, 200, 200],
      ['GET', ACCOUNTS, undefined, 200, 200, 200],
      ['POST', ACCOUNTS, { UserName: 'rf-matrix', Password: 'Rf-Matrix-Pass1', RoleId: 'ReadOnly' }, 201, 403, 403],
      ['GET', `${ACCOUNTS}/rf-matrix`, undefined, 200, 403, 403],
      ['PATCH', `${ACCOUNTS}/rf-matrix`, { RoleId: 'Operator' }, 200, 403, 403],
      ['DELETE', `${ACCOUNTS}/rf-matrix`, undefined, 200, 403, 403],
      ['GET', '/redfish/v1/AccountService/Roles', undefined, 200, 200, 200],
      ['GET', '/redfish/v1/AccountService/Roles/Operator', undefined, 200, 200, 200],
    ];

    for (const [index, role] of (['Administrator', 'Operator', 'ReadOnly'] as const).entries()) {
      it(`${role}: every operation answers as DSP0266's privilege model says`, async () => {
        const user = role === 'Administrator' ? ROOT : role === 'Operator' ? OPERATOR : READER;
        // The accounts the rows act on exist for the non-administrators' turns.
        if (role !== 'Administrator') await addUser(h, 'rf-matrix', 'Rf-Matrix-Pass1', ['ReadOnly']).catch(() => undefined);
        const me = await login(h, user);
        for (const row of MATRIX) {
          const [method, url, body] = row;
          const want = row[3 + index]!;
          const res = await h.app.inject({ method: method as 'GET', url, headers: { 'x-auth-token': me.token }, ...(body && { payload: body }) });
          assert.equal(res.statusCode, want, `${role} ${method} ${url}: ${res.body}`);
          if (want === 403) assertError(res, 403, 'InsufficientPrivilege');
        }
        if (role !== 'Administrator') await h.p.accounts.delete('rf-matrix');
      });
    }
  });

  describe('transport errors in the Redfish envelope', () => {
    it('404 ResourceNotFound for an unknown path, also for the deprecated /redfish/v1/Sessions (not in DSP0266)', async () => {
      assertError(await get(h, '/redfish/v1/Systems'), 404, 'ResourceNotFound');
      assertError(await h.app.inject({ method: 'POST', url: '/redfish/v1/Sessions', payload: { UserName: ROOT.username, Password: ROOT.password } }), 404, 'ResourceNotFound');
    });

    it('405 OperationNotAllowed with Allow for a method a resource does not have', async () => {
      for (const [method, url, allow] of [
        ['POST', '/redfish/v1/', 'GET, HEAD'],
        ['DELETE', '/redfish/v1/SessionService', 'GET, HEAD, PATCH'],
        ['PUT', SESSIONS, 'GET, HEAD, POST'],
        ['PATCH', '/redfish/v1/AccountService', 'GET, HEAD'],
        ['PATCH', `${SESSIONS}/abc`, 'GET, HEAD, DELETE'],
      ] as const) {
        const res = await h.app.inject({ method, url, payload: {} });
        assertError(res, 405, 'OperationNotAllowed');
        assert.equal(res.headers.allow, allow, `${method} ${url}`);
      }
    });

    it('413 PayloadTooLarge, 415 HeaderInvalid, 431 for oversized headers', async () => {
      const big = await h.app.inject({ method: 'POST', url: SESSIONS, headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ UserName: 'x', Password: 'y'.repeat(h.config.http.bodyLimitBytes) }) });
      assertError(big, 413, 'PayloadTooLarge');
      const text = await h.app.inject({ method: 'POST', url: SESSIONS, headers: { 'content-type': 'text/plain' }, payload: 'UserName=x' });
      const infos = assertError(text, 415, 'HeaderInvalid');
      assert.deepEqual(infos[0]!.MessageArgs, ['Content-Type: text/plain']);
      const huge = await h.app.inject({ method: 'GET', url: '/redfish/v1/', headers: { 'x-filler': 'a'.repeat(h.config.http.maxHeaderBytes) } });
      assertError(huge, 431, 'GeneralError');
    });

    it('503 ServiceTemporarilyUnavailable with Retry-After when the store is down or logins are saturated', async () => {
      const me = await login(h, ROOT);
      const original = h.p.store.findSessionByTokenHash;
      h.p.store.findSessionByTokenHash = async () => {
        throw new CoreError('unavailable', 'session store: connect ECONNREFUSED 10.0.0.9:5432');
      };
      restore.push(() => (h.p.store.findSessionByTokenHash = original));
      // A store that is down answers nothing from its memory either.
      const cached = h.p.store.cachedSession;
      h.p.store.cachedSession = () => undefined;
      restore.push(() => (h.p.store.cachedSession = cached));
      const res = await get(h, '/redfish/v1/SessionService', me.token);
      assertError(res, 503, 'ServiceTemporarilyUnavailable');
      assert.equal(res.headers['retry-after'], '2');
      assert.ok(!res.body.includes('ECONNREFUSED'), 'adapter details stay in the log');
      const busy = redfishRenderer.render({ code: 'busy' }, undefined);
      assert.equal(busy.status, 503);
      assert.equal(busy.headers?.['retry-after'], '1');
    });

    it('every core and transport code renders with a Base registry id and an honest status', () => {
      const codes = ['invalid_input', 'unsupported_auth_type', 'invalid_credentials', 'forbidden', 'invalid_session', 'csrf_mismatch', 'not_found', 'conflict', 'password_change_required', 'too_many_sessions', 'identity_unavailable', 'busy', 'unavailable', 'internal', 'no_route', 'method_not_allowed', 'uri_too_long', 'payload_too_large', 'unsupported_media_type', 'header_too_large', 'timeout'] as const;
      for (const code of codes) {
        const r = redfishRenderer.render({ code, detail: 'detail' }, undefined);
        const body = r.body as Json;
        assert.match(body.error.code, MESSAGE_ID, code);
        assert.ok(r.status >= 400 && r.status < 600, code);
        assert.equal(r.headers?.['odata-version'], '4.0');
        if (r.status >= 500) assert.ok(!JSON.stringify(body).includes('detail'), `${code}: no server-side detail shown`);
      }
    });
  });

  describe('one session, every dialect', () => {
    it('a Redfish token works as the HCX x-hm-authorization and as the XClarity cookie, and XClarity lists the session', async () => {
      const me = await login(h, ROOT);
      const hcx = await h.app.inject({ method: 'GET', url: '/api/admin/v1/sessions', headers: { 'x-hm-authorization': me.token } });
      assert.equal(hcx.statusCode, 200, hcx.body);
      const lx = await h.app.inject({ method: 'GET', url: '/sessions', headers: { cookie: `JSESSIONID=${me.token}` } });
      assert.equal(lx.statusCode, 200, lx.body);
      const own = json(lx).response.find((s: Json) => s.isOwnSession);
      assert.equal(own.id, me.id);
      // Logged out in HCX, it is gone in Redfish.
      await h.app.inject({ method: 'DELETE', url: '/api/admin/v1/sessions', headers: { 'x-hm-authorization': me.token } });
      assertError(await get(h, me.location, me.token), 401, 'NoValidSession');
    });

    it('an HCX token works as X-Auth-Token and its session shows as SessionType OEM / hcx', async () => {
      const res = await h.app.inject({ method: 'POST', url: '/api/admin/v1/sessions', payload: { username: ROOT.username, password: ROOT.password } });
      const token = String(res.headers['x-hm-authorization']);
      const mine = json(await get(h, SESSIONS, token));
      const id = (await h.p.sessions.listSessions({ username: ROOT.username })).find((s) => s.dialect === 'hcx')!.id;
      assert.ok(mine.Members.some((m: Json) => m['@odata.id'] === `${SESSIONS}/${id}`));
      const s = json(await get(h, `${SESSIONS}/${id}`, token));
      assert.equal(s.SessionType, 'OEM');
      assert.equal(s.OemSessionType, 'hcx');
    });

    it('a session revoked in the core (as the CLI does) is refused at once', async () => {
      const me = await login(h, OPERATOR);
      await h.p.sessions.revokeSession(me.id, { requestId: 'cli', clientAddress: 'cli', dialect: 'cli' }, 'cli');
      assertError(await get(h, '/redfish/v1/SessionService', me.token), 401, 'NoValidSession');
    });
  });
});
