import type { ProblemCode } from '../../http/common.js';
import { TRANSPORT_PROBLEMS, problemResponses, type DialectDocInfo, type Security } from '../../http/openapi.js';
import { ACCOUNTS_URI, REDFISH_ROOT, WWW_AUTHENTICATE, generalError, redfishRenderer } from './envelope.js';
import { BASE_REGISTRY, errorBody, message, type RedfishMessage } from './messages.js';
import { METADATA_XML, ODATA_SERVICE_DOCUMENT, REDFISH_VERSION, TYPES, describedBy } from './schemas.js';

/**
 * The Redfish dialect's OpenAPI document (docs/redfish.md, docs/openapi.md): the
 * resources' schemas (the properties Portcullis serves of the schema versions of
 * DMTF's mockup public-rackmount1, DSP2043), examples shaped after that mockup, every
 * error in the Redfish envelope with Base registry messages rendered by the dialect's
 * own code, and the headers DSP0266 asks for.
 */

type Json = Record<string, unknown>;
type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

const str = { type: 'string' } as const;
const int = { type: 'integer' } as const;
const bool = { type: 'boolean' } as const;
const ref = { type: 'object', required: ['@odata.id'], additionalProperties: false, properties: { '@odata.id': str } } as const;
const iso = { type: 'string', pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(Z|[+-][0-9]{2}:[0-9]{2})$' } as const;
const status = { type: 'object', required: ['State', 'Health'], additionalProperties: false, properties: { State: { const: 'Enabled' }, Health: { const: 'OK' } } } as const;
const odataType = (t: string) => ({ type: 'string', const: t });
const ROLE_IDS = ['Administrator', 'Operator', 'ReadOnly'];

const messageSchema = {
  type: 'object',
  description: 'A Base registry message (Message.v1_1_1).',
  required: ['@odata.type', 'MessageId', 'Message', 'MessageArgs', 'MessageSeverity', 'Severity', 'Resolution'],
  additionalProperties: false,
  properties: {
    '@odata.type': { const: '#Message.v1_1_1.Message' },
    MessageId: { type: 'string', pattern: `^${BASE_REGISTRY.replace('.', '\\.')}\\.[A-Za-z]+$` },
    RelatedProperties: { type: 'array', items: { type: 'string', pattern: '^#/' } },
    Message: str,
    MessageArgs: { type: 'array', items: str },
    MessageSeverity: { enum: ['OK', 'Warning', 'Critical'] },
    Severity: { enum: ['OK', 'Warning', 'Critical'], description: 'Deprecated in Message v1_1_0, still read by clients.' },
    Resolution: str,
  },
} as const;
const extendedInfo = { type: 'array', minItems: 1, items: messageSchema } as const;

/** `{"error": {code, message, @Message.ExtendedInfo}}` (DSP0266 "Error responses"). */
export const redfishErrorSchema = {
  type: 'object',
  required: ['error'],
  additionalProperties: false,
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message', '@Message.ExtendedInfo'],
      additionalProperties: false,
      properties: {
        code: { type: 'string', description: 'The MessageId of the one message, or Base.1.16.GeneralError when there are several.' },
        message: str,
        '@Message.ExtendedInfo': extendedInfo,
      },
    },
  },
} as const;

// ---- resources ------------------------------------------------------------------------------------

const resource = (type: string, required: string[], properties: Json, optional: Json = {}) => ({
  type: 'object',
  required: ['@odata.id', '@odata.type', ...required],
  additionalProperties: false,
  properties: { '@odata.id': str, '@odata.type': odataType(type), ...properties, ...optional },
});

const serviceRootSchema = resource(
  TYPES.ServiceRoot,
  ['Id', 'Name', 'RedfishVersion', 'UUID', 'Product', 'ProtocolFeaturesSupported', 'SessionService', 'AccountService', 'Links'],
  {
    Id: str,
    Name: str,
    RedfishVersion: { const: REDFISH_VERSION },
    UUID: { type: 'string', pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$', description: 'redfish.uuid, else stable for this host and data directory.' },
    Product: { type: 'string', description: 'redfish.product' },
    ProtocolFeaturesSupported: {
      type: 'object',
      description: 'No $expand, $select, $filter, only or excerpt: such queries are answered 501.',
      required: ['ExpandQuery', 'SelectQuery', 'FilterQuery', 'OnlyMemberQuery', 'ExcerptQuery'],
      properties: { ExpandQuery: { type: 'object' }, SelectQuery: bool, FilterQuery: bool, OnlyMemberQuery: bool, ExcerptQuery: bool },
    },
    SessionService: ref,
    AccountService: ref,
    Links: { type: 'object', required: ['Sessions'], additionalProperties: false, properties: { Sessions: ref } },
  },
);
const SERVICE_ROOT = {
  '@odata.id': '/redfish/v1/',
  '@odata.type': TYPES.ServiceRoot,
  Id: 'RootService',
  Name: 'Root Service',
  RedfishVersion: REDFISH_VERSION,
  UUID: '92384634-2938-2342-8820-489239905423',
  Product: 'Portcullis',
  ProtocolFeaturesSupported: { ExpandQuery: { ExpandAll: false, Levels: false, Links: false, NoLinks: false }, SelectQuery: false, FilterQuery: false, OnlyMemberQuery: false, ExcerptQuery: false },
  SessionService: { '@odata.id': '/redfish/v1/SessionService' },
  AccountService: { '@odata.id': '/redfish/v1/AccountService' },
  Links: { Sessions: { '@odata.id': '/redfish/v1/SessionService/Sessions' } },
};

const sessionServiceSchema = resource(
  TYPES.SessionService,
  ['Id', 'Name', 'Description', 'Status', 'ServiceEnabled', 'AbsoluteSessionTimeout', 'AbsoluteSessionTimeoutEnabled', 'Sessions'],
  {
    Id: str,
    Name: str,
    Description: str,
    Status: status,
    ServiceEnabled: bool,
    SessionTimeout: { type: 'integer', description: 'The shared inactivity timeout in seconds; absent when it is 0 (never).' },
    AbsoluteSessionTimeout: { type: 'integer', description: 'The shared session lifetime in seconds.' },
    AbsoluteSessionTimeoutEnabled: bool,
    Sessions: ref,
  },
  { '@Message.ExtendedInfo': extendedInfo },
);
const SESSION_SERVICE = {
  '@odata.id': '/redfish/v1/SessionService',
  '@odata.type': TYPES.SessionService,
  Id: 'SessionService',
  Name: 'Session Service',
  Description: 'Session Service',
  Status: { State: 'Enabled', Health: 'OK' },
  ServiceEnabled: true,
  SessionTimeout: 1800,
  AbsoluteSessionTimeout: 86400,
  AbsoluteSessionTimeoutEnabled: true,
  Sessions: { '@odata.id': '/redfish/v1/SessionService/Sessions' },
};

const sessionSchema = resource(
  TYPES.Session,
  ['Id', 'Name', 'Description', 'UserName', 'Password', 'SessionType', 'CreatedTime', 'ExpirationTime'],
  {
    Id: str,
    Name: str,
    Description: str,
    UserName: str,
    Password: { type: 'null', description: 'Never shown.' },
    SessionType: { enum: ['Redfish', 'OEM'], description: 'OEM for a session opened through another dialect.' },
    OemSessionType: { type: 'string', description: 'The dialect that opened the session (hcx, lxca, vcenter …).' },
    ClientOriginIPAddress: str,
    CreatedTime: iso,
    ExpirationTime: { ...iso, description: 'The earlier of the lifetime\'s end and the inactivity timeout\'s.' },
  },
  { '@Message.ExtendedInfo': { ...extendedInfo, description: 'On a login that must change its password: PasswordChangeRequired.' } },
);
const SESSION = {
  '@odata.id': '/redfish/v1/SessionService/Sessions/ABCD1234',
  '@odata.type': TYPES.Session,
  Id: 'ABCD1234',
  Name: 'User Session',
  Description: 'Manager User Session',
  UserName: 'Administrator',
  Password: null,
  SessionType: 'Redfish',
  ClientOriginIPAddress: '192.168.0.1',
  CreatedTime: '2026-11-23T09:00:00Z',
  ExpirationTime: '2026-11-23T09:30:00Z',
};

const collectionSchema = (type: string) =>
  resource(type, ['Name', 'Members', 'Members@odata.count'], { Name: str, Members: { type: 'array', items: ref }, 'Members@odata.count': { type: 'integer', minimum: 0 } });
const collection = (type: string, id: string, name: string, members: string[]) => ({
  '@odata.id': id,
  '@odata.type': type,
  Name: name,
  Members: members.map((m) => ({ '@odata.id': m })),
  'Members@odata.count': members.length,
});

const accountServiceSchema = resource(
  TYPES.AccountService,
  [
    'Id', 'Name', 'Description', 'Status', 'ServiceEnabled', 'MinPasswordLength', 'MaxPasswordLength', 'AccountLockoutThreshold', 'AccountLockoutCounterResetAfter',
    'AccountLockoutCounterResetEnabled', 'PasswordExpirationDays', 'EnforcePasswordHistoryCount', 'RequireChangePasswordAction', 'Accounts', 'Roles',
  ],
  {
    Id: str,
    Name: str,
    Description: str,
    Status: status,
    ServiceEnabled: bool,
    MinPasswordLength: int,
    MaxPasswordLength: int,
    AccountLockoutThreshold: { type: 'integer', description: 'The shared MaximumLoginFailures.' },
    AccountLockoutDuration: { type: 'integer', description: 'The shared LockoutTime in seconds; absent when locks last until an administrator lifts them.' },
    AccountLockoutCounterResetAfter: int,
    AccountLockoutCounterResetEnabled: bool,
    PasswordExpirationDays: { type: ['integer', 'null'] },
    EnforcePasswordHistoryCount: int,
    RequireChangePasswordAction: bool,
    Accounts: ref,
    Roles: ref,
  },
);
const ACCOUNT_SERVICE = {
  '@odata.id': '/redfish/v1/AccountService',
  '@odata.type': TYPES.AccountService,
  Id: 'AccountService',
  Name: 'Account Service',
  Description: 'Account Service',
  Status: { State: 'Enabled', Health: 'OK' },
  ServiceEnabled: true,
  MinPasswordLength: 8,
  MaxPasswordLength: 256,
  AccountLockoutThreshold: 5,
  AccountLockoutDuration: 1800,
  AccountLockoutCounterResetAfter: 3600,
  AccountLockoutCounterResetEnabled: true,
  PasswordExpirationDays: null,
  EnforcePasswordHistoryCount: 0,
  RequireChangePasswordAction: false,
  Accounts: { '@odata.id': ACCOUNTS_URI },
  Roles: { '@odata.id': '/redfish/v1/AccountService/Roles' },
};

const accountSchema = resource(
  TYPES.ManagerAccount,
  ['Id', 'Name', 'Description', 'Enabled', 'Password', 'PasswordChangeRequired', 'AccountTypes', 'UserName', 'Locked', 'Actions'],
  {
    Id: str,
    Name: str,
    Description: str,
    Enabled: bool,
    Password: { type: 'null', description: 'Never shown.' },
    PasswordChangeRequired: bool,
    AccountTypes: { type: 'array', items: { const: 'Redfish' } },
    UserName: str,
    RoleId: { enum: ROLE_IDS, description: 'Absent for an account none of whose roles maps to a Redfish role.' },
    Locked: bool,
    Links: { type: 'object', required: ['Role'], additionalProperties: false, properties: { Role: ref } },
    Actions: {
      type: 'object',
      required: ['#ManagerAccount.ChangePassword'],
      additionalProperties: false,
      properties: { '#ManagerAccount.ChangePassword': { type: 'object', required: ['target'], additionalProperties: false, properties: { target: str } } },
    },
  },
  { '@Message.ExtendedInfo': { ...extendedInfo, description: 'After a PATCH: AccountModified.' } },
);
const ACCOUNT = {
  '@odata.id': `${ACCOUNTS_URI}/Administrator`,
  '@odata.type': TYPES.ManagerAccount,
  Id: 'Administrator',
  Name: 'User Account',
  Description: 'User Account',
  Enabled: true,
  Password: null,
  PasswordChangeRequired: false,
  AccountTypes: ['Redfish'],
  UserName: 'Administrator',
  RoleId: 'Administrator',
  Locked: false,
  Links: { Role: { '@odata.id': '/redfish/v1/AccountService/Roles/Administrator' } },
  Actions: { '#ManagerAccount.ChangePassword': { target: `${ACCOUNTS_URI}/Administrator/Actions/ManagerAccount.ChangePassword` } },
};

const roleSchema = resource(TYPES.Role, ['Id', 'Name', 'Description', 'IsPredefined', 'AssignedPrivileges', 'OemPrivileges', 'RoleId'], {
  Id: { enum: ROLE_IDS },
  Name: str,
  Description: str,
  IsPredefined: { const: true },
  AssignedPrivileges: { type: 'array', items: { enum: ['Login', 'ConfigureManager', 'ConfigureUsers', 'ConfigureSelf', 'ConfigureComponents'] } },
  OemPrivileges: { type: 'array', maxItems: 0 },
  RoleId: { enum: ROLE_IDS },
});
const ROLE = {
  '@odata.id': '/redfish/v1/AccountService/Roles/Operator',
  '@odata.type': TYPES.Role,
  Id: 'Operator',
  Name: 'User Role',
  Description: 'Operator User Role',
  IsPredefined: true,
  AssignedPrivileges: ['Login', 'ConfigureSelf', 'ConfigureComponents'],
  OemPrivileges: [],
  RoleId: 'Operator',
};

const messagesSchema = { type: 'object', required: ['@Message.ExtendedInfo'], additionalProperties: false, properties: { '@Message.ExtendedInfo': extendedInfo } } as const;

// ---- headers --------------------------------------------------------------------------------------

const H = {
  odata: { description: 'The OData version (DSP0266: on every response).', required: true, schema: { type: 'string', const: '4.0' } },
  link: (type: string) => ({ description: 'The JSON schema of the body (rel=describedby).', required: true, schema: { type: 'string', const: describedBy(type) } }),
  allow: (methods: string) => ({ description: 'The methods of this resource.', required: true, schema: { type: 'string', const: methods } }),
  etag: { description: 'The representation\'s strong ETag: send it back in If-Match to write only what was read.', required: true, schema: { type: 'string', pattern: '^"[A-Za-z0-9_-]+"$' } },
  location: { description: 'The URI of the new resource (its @odata.id).', required: true, schema: { type: 'string', pattern: '^/redfish/v1/' } },
  token: { description: 'The session token: send it as X-Auth-Token. Only its hash is stored; it is shown once.', required: true, schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{43}$' } },
};

const ifMatchHeader: Json = {
  name: 'If-Match',
  in: 'header',
  required: false,
  description: 'The ETag of a GET: the change is made only if the resource is still that representation (else 412 PreconditionFailed). `*` always matches; W/ prefixes are compared weakly.',
  schema: { type: 'string' },
};
const idParams = (what: string) => ({ type: 'object', required: ['id'], properties: { id: { type: 'string', description: what } } });

/**
 * A request body as the document shows it. The handlers check bodies themselves and answer
 * in Redfish messages (PropertyMissing, PropertyValueTypeError …), so Fastify must not: the
 * `{}` branch lets every body through its validation, the first branch documents the properties.
 */
function requestBody(description: string, properties: Json, examples: unknown[]): Json {
  return { description, anyOf: [{ type: 'object', properties }, { description: 'Anything else is answered with a Redfish 400 (see the responses).' }], examples };
}

// ---- responses ------------------------------------------------------------------------------------

function ok(description: string, schema: Json, example: unknown, headers: Record<string, Json>, status = 200): Record<string, Json> {
  return {
    [String(status)]: {
      description,
      headers: { 'OData-Version': H.odata, ...headers },
      content: { 'application/json': { schema, example } },
    },
  };
}

/** A failure a handler answers itself: its status and the messages (as errorBody renders them). */
type Failure = [status: number, name: string, messages: RedfishMessage[], detail?: string];

/** The route's own failures and the problem codes the renderer answers, merged by status, narrowed to the MessageIds they send. */
function errors(codes: readonly ProblemCode[], failures: Failure[]): Record<string, Json> {
  const out = problemResponses(redfishRenderer, [...TRANSPORT_PROBLEMS, ...codes], redfishErrorSchema);
  for (const [code, name, messages, detail] of failures) {
    const key = String(code);
    const body = errorBody(messages, detail);
    const r = (out[key] ??= {
      description: '',
      headers: {},
      content: { 'application/json': { schema: redfishErrorSchema, examples: {} } },
    });
    const media = (r.content as Record<string, Json>)['application/json']!;
    (media.examples as Record<string, Json>)[name] = { value: body };
    r.description = `${String(r.description)} \`${name}\`: ${body.error.message}`.trim();
    if (code === 401) r.headers = { ...(r.headers as Json), 'WWW-Authenticate': { description: 'The authentication scheme the client may use.', required: true, schema: { type: 'string', const: WWW_AUTHENTICATE } } };
  }
  for (const r of Object.values(out)) {
    // The renderer's odata-version, spelled and described as DSP0266 does.
    const { 'Odata-Version': _odata, ...others } = (r.headers ?? {}) as Json;
    r.headers = { 'OData-Version': H.odata, ...others };
    const media = (r.content as Record<string, Json>)['application/json']!;
    const ids = [...new Set(Object.values(media.examples as Record<string, { value: ReturnType<typeof errorBody> }>).map((e) => e.value.error.code))];
    media.schema = { allOf: [redfishErrorSchema, { properties: { error: { properties: { code: { enum: ids } } } } }] };
  }
  return out;
}

const m = message;
const AUTH: Failure[] = [
  [401, 'NoValidSession', [m('NoValidSession')]],
  [403, 'InsufficientPrivilege', [m('InsufficientPrivilege')], 'The operation needs the ConfigureUsers privilege.'],
  [403, 'PasswordChangeRequired', [m('PasswordChangeRequired', `${ACCOUNTS_URI}/alice`)]],
  [403, 'PlainHttp', [generalError('Send credentials over HTTPS only: use the https:// URL of this service.')], 'Credentials are refused over plain HTTP.'],
  [501, 'QueryParameterUnsupported', [m('QueryParameterUnsupported', '$expand')]],
];
const QUERY: Failure[] = [[501, 'QueryParameterUnsupported', [m('QueryParameterUnsupported', '$expand')]]];
const BODY: Failure[] = [
  [400, 'EmptyJSON', [m('EmptyJSON')], 'The request has no body.'],
  [400, 'NotAnObject', [m('MalformedJSON')], 'The body must be a JSON object.'],
];
const several = (...messages: RedfishMessage[]): RedfishMessage[] => messages;
const notFound = (type: string, id: string): Failure => [404, 'ResourceNotFound', [m('ResourceNotFound', type, id)]];
const CORE: ProblemCode[] = ['not_found', 'conflict', 'identity_unavailable', 'busy'];

const sessionAuth: Security = [{ xAuthToken: [] }, { basic: [] }];

/** The documentation of each route, by path (as routes.ts registers it) and method. */
export function redfishDocs(): { info: DialectDocInfo; routes: Record<string, Partial<Record<Method, Json>>> } {
  const R = REDFISH_ROOT;
  const get = (summary: string, operationId: string, schema: Json, example: unknown, type: string | undefined, allow: string, extra: { etag?: boolean; failures?: Failure[]; auth?: boolean } = {}) => ({
    summary,
    operationId,
    security: extra.auth === false ? [] : sessionAuth,
    response: {
      ...ok('The resource.', schema, example, { ...(type && { Link: H.link(type) }), Allow: H.allow(allow), ...(extra.etag && { ETag: H.etag }) }),
      ...errors(extra.auth === false ? [] : CORE, [...(extra.auth === false ? QUERY : AUTH), ...(extra.failures ?? [])]),
    },
  });
  const routes: Record<string, Partial<Record<Method, Json>>> = {
    '/redfish': {
      GET: {
        summary: 'The versions of the protocol served',
        operationId: 'getRedfish',
        security: [],
        response: { ...ok('`{"v1": "/redfish/v1/"}`.', { type: 'object', required: ['v1'], additionalProperties: false, properties: { v1: { const: '/redfish/v1/' } } }, { v1: '/redfish/v1/' }, { Allow: H.allow('GET, HEAD') }), ...errors([], QUERY) },
      },
    },
    [`${R}/`]: { GET: get('The service root (no authentication)', 'getServiceRoot', serviceRootSchema, SERVICE_ROOT, TYPES.ServiceRoot, 'GET, HEAD', { auth: false }) },
    [`${R}/odata`]: {
      GET: get(
        'The OData service document (no authentication)',
        'getODataServiceDocument',
        {
          type: 'object',
          required: ['@odata.context', 'value'],
          additionalProperties: false,
          properties: {
            '@odata.context': { const: '/redfish/v1/$metadata' },
            value: { type: 'array', items: { type: 'object', required: ['name', 'kind', 'url'], additionalProperties: false, properties: { name: str, kind: { const: 'Singleton' }, url: str } } },
          },
        },
        ODATA_SERVICE_DOCUMENT,
        undefined,
        'GET, HEAD',
        { auth: false },
      ),
    },
    [`${R}/$metadata`]: {
      GET: {
        summary: 'The OData CSDL metadata document, as XML (no authentication)',
        description: 'The CSDL references of the schemas served (DSP0266 "OData metadata"); `application/xml`, not JSON.',
        operationId: 'getMetadata',
        security: [],
        response: {
          200: {
            description: 'The metadata document (XML).',
            headers: { 'OData-Version': H.odata, Allow: H.allow('GET, HEAD') },
            content: { 'application/xml': { schema: { type: 'string', description: 'An edmx:Edmx document (OData CSDL 4.0).' }, example: METADATA_XML } },
          },
          ...errors([], []),
        },
      },
    },
    [`${R}/SessionService`]: {
      GET: get('The SessionService', 'getSessionService', sessionServiceSchema, SESSION_SERVICE, TYPES.SessionService, 'GET, HEAD, PATCH', { etag: true }),
      PATCH: {
        summary: 'Change SessionTimeout (ConfigureManager): the shared inactivity timeout',
        description: 'Body: `{"SessionTimeout": <seconds, 30–86400>}`; it is kept in whole minutes (PropertyValueModified says when it was rounded). Other properties are read-only or unknown.',
        operationId: 'patchSessionService',
        security: sessionAuth,
        parameters: [ifMatchHeader],
        body: requestBody('The properties to change.', { SessionTimeout: { type: 'integer', minimum: 30, maximum: 86400, description: 'Seconds.' } }, [{ SessionTimeout: 600 }]),
        response: {
          ...ok('The SessionService after the change.', sessionServiceSchema, SESSION_SERVICE, { Link: H.link(TYPES.SessionService), ETag: H.etag }),
          ...errors(CORE, [
            ...AUTH,
            ...BODY,
            [400, 'NoOperation', [m('NoOperation')]],
            [400, 'PropertyValueOutOfRange', [m('PropertyValueOutOfRange', '5', 'SessionTimeout')]],
            [400, 'PropertyValueTypeError', [m('PropertyValueTypeError', '"600"', 'SessionTimeout')]],
            [400, 'PropertyNotWritable', [m('PropertyNotWritable', 'AbsoluteSessionTimeout')]],
            [400, 'PropertyUnknown', [m('PropertyUnknown', 'Foo')]],
            [400, 'Several', several(m('PropertyUnknown', 'Foo'), m('PropertyNotWritable', 'Id'))],
            [412, 'PreconditionFailed', [m('PreconditionFailed')]],
          ]),
        },
      },
    },
    [`${R}/SessionService/Sessions`]: {
      GET: get('The sessions: all with ConfigureManager, else the caller\'s own (of every dialect)', 'listSessions', collectionSchema(TYPES.SessionCollection), collection(TYPES.SessionCollection, `${R}/SessionService/Sessions`, 'Session Collection', [SESSION['@odata.id']]), TYPES.SessionCollection, 'GET, HEAD, POST'),
      POST: {
        summary: 'Log in: create a session (no authentication)',
        description: 'Body: `{"UserName", "Password"}` (strings, nothing else). The token comes in X-Auth-Token, the session\'s URI in Location; no cookie. Refused over plain HTTP behind a proxy that says so.',
        operationId: 'createSession',
        security: [],
        body: requestBody('The credentials.', { UserName: str, Password: str }, [{ UserName: 'Administrator', Password: 'P@ssw0rd-Example' }]),
        response: {
          ...ok('The session.', sessionSchema, SESSION, { Link: H.link(TYPES.Session), Location: H.location, 'X-Auth-Token': H.token }, 201),
          ...errors(['busy', 'identity_unavailable'], [
            ...BODY,
            [400, 'PropertyMissing', [m('PropertyMissing', 'Password')]],
            [400, 'PropertyValueTypeError', [m('PropertyValueTypeError', '42', 'UserName')]],
            [400, 'PropertyValueError', [m('PropertyValueError', 'Password')]],
            [400, 'PropertyUnknown', [m('PropertyUnknown', 'Domain')]],
            [400, 'Several', several(m('PropertyMissing', 'UserName'), m('PropertyMissing', 'Password'))],
            [401, 'NoValidSession', [m('NoValidSession')]],
            [403, 'InsufficientPrivilege', [m('InsufficientPrivilege')], 'The account has no Redfish role.'],
            [403, 'SessionLimitExceeded', [m('SessionLimitExceeded')], 'The limit (MaxConcurrentSessions) is 32.'],
            [403, 'PlainHttp', [generalError('Send credentials over HTTPS only: use the https:// URL of this service.')], 'Credentials are refused over plain HTTP.'],
            ...QUERY,
          ]),
        },
      },
    },
    [`${R}/SessionService/Sessions/:id`]: {
      GET: { ...get('A session (the caller\'s own, or any with ConfigureManager)', 'getSession', sessionSchema, SESSION, TYPES.Session, 'GET, HEAD, DELETE', { failures: [notFound('Session', 'ABCD1234')] }), params: idParams('The session\'s Id.') },
      DELETE: {
        summary: 'Log out (the own session) or end another\'s (ConfigureManager)',
        operationId: 'deleteSession',
        security: sessionAuth,
        params: idParams('The session\'s Id.'),
        response: {
          ...ok('SessionTerminated.', messagesSchema, { '@Message.ExtendedInfo': [m('SessionTerminated')] }, {}),
          ...errors(CORE, [...AUTH, notFound('Session', 'ABCD1234')]),
        },
      },
    },
    [`${R}/AccountService`]: { GET: get('The AccountService: the shared password and lockout policy', 'getAccountService', accountServiceSchema, ACCOUNT_SERVICE, TYPES.AccountService, 'GET, HEAD') },
    [ACCOUNTS_URI]: {
      GET: get('The accounts: all with ConfigureUsers, else the caller\'s own local account', 'listAccounts', collectionSchema(TYPES.ManagerAccountCollection), collection(TYPES.ManagerAccountCollection, ACCOUNTS_URI, 'Accounts Collection', [ACCOUNT['@odata.id']]), TYPES.ManagerAccountCollection, 'GET, HEAD, POST'),
      POST: {
        summary: 'Create a local account (ConfigureUsers)',
        description: 'Body: `UserName`, `Password`, `RoleId` (Administrator, Operator, ReadOnly; redfish.accountRoles gives the roles it stands for) required; `Enabled`, `PasswordChangeRequired` (booleans) and `AccountTypes` (["Redfish"]) optional.',
        operationId: 'createAccount',
        security: sessionAuth,
        body: requestBody('The new account.', { UserName: str, Password: str, RoleId: { enum: ROLE_IDS }, Enabled: bool, PasswordChangeRequired: bool, AccountTypes: { type: 'array', items: { const: 'Redfish' } } }, [{ UserName: 'alice', Password: 'Alice-Pass-1234', RoleId: 'Operator', PasswordChangeRequired: true }]),
        response: {
          ...ok('The account.', accountSchema, ACCOUNT, { Link: H.link(TYPES.ManagerAccount), Location: H.location, ETag: H.etag }, 201),
          ...errors(CORE, [
            ...AUTH,
            ...BODY,
            [400, 'PropertyMissing', [m('PropertyMissing', 'RoleId')]],
            [400, 'PropertyValueNotInList', [m('PropertyValueNotInList', 'Root', 'RoleId')]],
            [400, 'PropertyValueTypeError', [m('PropertyValueTypeError', '"yes"', 'Enabled')]],
            [400, 'PropertyValueError', [m('PropertyValueError', 'Password')], 'password is shorter than 8 characters'],
            [400, 'PropertyValueIncorrect', [m('PropertyValueIncorrect', 'UserName', 'bad name')], 'username has characters that are not allowed'],
            [400, 'PropertyUnknown', [m('PropertyUnknown', 'EmailAddress')]],
            [400, 'Several', several(m('PropertyMissing', 'UserName'), m('PropertyMissing', 'Password'))],
            [409, 'ResourceAlreadyExists', [m('ResourceAlreadyExists', 'ManagerAccount', 'UserName', 'alice')]],
          ]),
        },
      },
    },
    [`${ACCOUNTS_URI}/:id`]: {
      GET: { ...get('An account (the own, or any with ConfigureUsers); a session that must change its password may read its own', 'getAccount', accountSchema, ACCOUNT, TYPES.ManagerAccount, 'GET, HEAD, PATCH, DELETE', { etag: true, failures: [notFound('ManagerAccount', 'bob')] }), params: idParams('The account\'s UserName.') },
      PATCH: {
        summary: 'Change an account: the own Password (ConfigureSelf, also under a forced change), or Password, RoleId, Enabled, PasswordChangeRequired, Locked: false (ConfigureUsers)',
        description: 'Locked can only be set to false (a lock comes from failed logins). The own Password ends the caller\'s other sessions.',
        operationId: 'patchAccount',
        security: sessionAuth,
        params: idParams('The account\'s UserName.'),
        parameters: [ifMatchHeader],
        body: requestBody('The properties to change.', { Password: str, RoleId: { enum: ROLE_IDS }, Enabled: bool, PasswordChangeRequired: bool, Locked: { const: false } }, [{ Password: 'New-Pass-5678' }, { RoleId: 'ReadOnly', Enabled: false }]),
        response: {
          ...ok('The account after the change, with AccountModified.', accountSchema, { ...ACCOUNT, '@Message.ExtendedInfo': [m('AccountModified')] }, { Link: H.link(TYPES.ManagerAccount), ETag: H.etag }),
          ...errors(CORE, [
            ...AUTH,
            ...BODY,
            notFound('ManagerAccount', 'bob'),
            [400, 'NoOperation', [m('NoOperation')]],
            [400, 'PropertyNotWritable', [m('PropertyNotWritable', 'UserName')]],
            [400, 'PropertyUnknown', [m('PropertyUnknown', 'Foo')]],
            [400, 'PropertyValueNotInList', [m('PropertyValueNotInList', 'true', 'Locked')]],
            [400, 'PropertyValueTypeError', [m('PropertyValueTypeError', '"no"', 'Enabled')]],
            [400, 'PropertyValueError', [m('PropertyValueError', 'Password')], 'password was used recently'],
            [400, 'Several', several(m('PropertyUnknown', 'Foo'), m('PropertyNotWritable', 'Id'))],
            [412, 'PreconditionFailed', [m('PreconditionFailed')]],
          ]),
        },
      },
      DELETE: {
        summary: 'Delete an account (ConfigureUsers)',
        operationId: 'deleteAccount',
        security: sessionAuth,
        params: idParams('The account\'s UserName.'),
        response: { ...ok('AccountRemoved.', messagesSchema, { '@Message.ExtendedInfo': [m('AccountRemoved')] }, {}), ...errors(CORE, [...AUTH, notFound('ManagerAccount', 'bob')]) },
      },
    },
    [`${ACCOUNTS_URI}/:id/Actions/ManagerAccount.ChangePassword`]: {
      POST: {
        summary: 'ManagerAccount.ChangePassword: the own password (ConfigureSelf), or reset another\'s (ConfigureUsers)',
        description: 'Body: `{"NewPassword", "SessionAccountPassword"}`; SessionAccountPassword is the password of the caller\'s own account, checked like a login.',
        operationId: 'changePassword',
        security: sessionAuth,
        params: idParams('The account\'s UserName.'),
        body: requestBody('The action\'s parameters.', { NewPassword: str, SessionAccountPassword: { type: 'string', description: 'The caller\'s own current password.' } }, [{ NewPassword: 'New-Pass-5678', SessionAccountPassword: 'Old-Pass-1234' }]),
        response: {
          ...ok('Success.', messagesSchema, { '@Message.ExtendedInfo': [m('Success')] }, {}),
          ...errors(CORE, [
            ...AUTH,
            ...BODY,
            notFound('ManagerAccount', 'bob'),
            [400, 'ActionParameterMissing', [m('ActionParameterMissing', 'ManagerAccount.ChangePassword', 'NewPassword')]],
            [400, 'ActionParameterUnknown', [m('ActionParameterUnknown', 'ManagerAccount.ChangePassword', 'Password')]],
            [400, 'ActionParameterValueError', [m('ActionParameterValueError', 'SessionAccountPassword', 'ManagerAccount.ChangePassword')], 'It is not the password of the account of this session.'],
            [400, 'Several', several(m('ActionParameterMissing', 'ManagerAccount.ChangePassword', 'NewPassword'), m('ActionParameterMissing', 'ManagerAccount.ChangePassword', 'SessionAccountPassword'))],
          ]),
        },
      },
    },
    [`${R}/AccountService/Roles`]: {
      GET: get('The predefined roles', 'listRoles', collectionSchema(TYPES.RoleCollection), collection(TYPES.RoleCollection, `${R}/AccountService/Roles`, 'Roles Collection', ROLE_IDS.map((r) => `${R}/AccountService/Roles/${r}`)), TYPES.RoleCollection, 'GET, HEAD'),
    },
    [`${R}/AccountService/Roles/:id`]: {
      GET: { ...get('A predefined role and its privileges', 'getRole', roleSchema, ROLE, TYPES.Role, 'GET, HEAD', { failures: [notFound('Role', 'Root')] }), params: idParams('Administrator, Operator or ReadOnly.') },
    },
  };
  return {
    info: {
      title: 'Portcullis — DMTF Redfish sessions and accounts',
      description:
        'DSP0266 Redfish: the service root, SessionService (log in with POST Sessions → X-Auth-Token and Location), AccountService with its accounts and predefined roles, ' +
        'and the ChangePassword action. Authenticate with X-Auth-Token or HTTP Basic (no session); cookies are never read. Every response carries OData-Version: 4.0; ' +
        'errors are `{"error": {code, message, @Message.ExtendedInfo}}` with Base.1.16 registry messages. Resources are those of DMTF\'s mockup public-rackmount1 (DSP2043). ' +
        '`$`-queries ($expand, $select, $filter, only, excerpt) answer 501. Reference: docs/redfish.md.',
      securitySchemes: {
        xAuthToken: { type: 'apiKey', in: 'header', name: 'X-Auth-Token', description: 'The token a login (POST /redfish/v1/SessionService/Sessions) returned in X-Auth-Token.' },
        basic: { type: 'http', scheme: 'basic', description: 'User name and password on every request, without a session (refused over plain HTTP).' },
      },
      errorSchema: redfishErrorSchema,
    },
    routes,
  };
}
