import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema, RouteHandlerMethod } from 'fastify';
import { REDFISH_ROLES, type RedfishRoleId } from '../../config/redfish.js';
import { isCoreError } from '../../core/errors.js';
import { MAX_PASSWORD_LENGTH } from '../../core/input.js';
import type { SessionAction } from '../../core/sessions.js';
import { openApiPath } from '../../http/openapi.js';
import { basicCredentials, fastSessionCheck, header, isoSeconds, isUserActivity, requestContext } from '../../http/common.js';
import { DuplicateAccountError, type Account, type SessionRecord } from '../../ports/store.js';
import type { Dialect, DialectDeps, FastRoute } from '../types.js';
import { ACCOUNTS_URI, ODATA_HEADERS, REDFISH_ROOT, WWW_AUTHENTICATE, generalError, redfishRenderer } from './envelope.js';
import { errorBody, message, shown, type RedfishMessage } from './messages.js';
import { redfishDocs } from './openapi.js';
import { METADATA_XML, ODATA_SERVICE_DOCUMENT, REDFISH_VERSION, TYPES, describedBy, etagOf, ifMatchPasses, stableUuid } from './schemas.js';

const SESSION_SERVICE = `${REDFISH_ROOT}/SessionService`;
const SESSIONS = `${SESSION_SERVICE}/Sessions`;
const ACCOUNT_SERVICE = `${REDFISH_ROOT}/AccountService`;
const ROLES = `${ACCOUNT_SERVICE}/Roles`;
const CHANGE_PASSWORD = 'ManagerAccount.ChangePassword';

/** DSP0266's privileges of the predefined roles. */
type Privilege = 'Login' | 'ConfigureManager' | 'ConfigureUsers' | 'ConfigureSelf' | 'ConfigureComponents';
export const ROLE_PRIVILEGES: Record<RedfishRoleId, Privilege[]> = {
  Administrator: ['Login', 'ConfigureManager', 'ConfigureUsers', 'ConfigureSelf', 'ConfigureComponents'],
  Operator: ['Login', 'ConfigureSelf', 'ConfigureComponents'],
  ReadOnly: ['Login', 'ConfigureSelf'],
};
const ROLE_DESCRIPTION: Record<RedfishRoleId, string> = {
  Administrator: 'Admin User Role',
  Operator: 'Operator User Role',
  ReadOnly: 'ReadOnly User Role',
};

/** SessionTimeout bounds of the SessionService schema, in seconds. */
const SESSION_TIMEOUT_MIN = 30;
const SESSION_TIMEOUT_MAX = 86400;
/** Failures are counted per hour (README "Brute-force defence"): the counter resets that long after the first. */
const COUNTER_RESET_SECONDS = 3600;

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

/** Who is calling: a session (X-Auth-Token) or an HTTP Basic user (no session). */
interface Caller {
  username: string;
  role: RedfishRoleId;
  privileges: ReadonlySet<Privilege>;
  mustChangePassword: boolean;
  session: SessionRecord | undefined;
}

type Body = Record<string, unknown>;

/** A failure answered with Redfish messages; thrown inside handlers, rendered by the route wrapper. */
class RedfishFailure extends Error {
  constructor(
    readonly status: number,
    readonly messages: RedfishMessage[],
    readonly detail?: string,
  ) {
    super(messages[0]?.Message ?? 'Redfish failure');
  }
}

const fail = (status: number, messages: RedfishMessage[], detail?: string): never => {
  throw new RedfishFailure(status, messages, detail);
};

/** Properties of a request body other than OData annotations (`@odata.type` …), which clients may echo back. */
function properties(body: Body): string[] {
  return Object.keys(body).filter((k) => !k.startsWith('@'));
}

function objectBody(body: unknown): Body {
  if (body === undefined) fail(400, [message('EmptyJSON')], 'The request has no body.');
  if (typeof body !== 'object' || body === null || Array.isArray(body)) fail(400, [message('MalformedJSON')], 'The body must be a JSON object.');
  return body as Body;
}

/**
 * DMTF Redfish (DSP0266): the service root, SessionService and AccountService on
 * the one session store. Tokens are the same secret as every other dialect's.
 */
export function redfishDialect(deps: DialectDeps): Dialect {
  const { sessions, accounts, settings, config, clock } = deps;
  const cfg = config.redfish;
  const uuid = cfg.uuid ?? stableUuid(config.dataDir);
  const redfishNames: readonly string[] = REDFISH_ROLES;
  /** Roles that give a Redfish role: a login needs one of them. */
  const mappedRoles = [...new Set([...Object.keys(cfg.roleMap), ...REDFISH_ROLES])];

  /** The most privileged Redfish role any of the roles maps to. */
  function redfishRole(roles: readonly string[]): RedfishRoleId | undefined {
    let best: number | undefined;
    for (const r of roles) {
      const id = redfishNames.includes(r) ? (r as RedfishRoleId) : Object.hasOwn(cfg.roleMap, r) ? cfg.roleMap[r] : undefined;
      if (id === undefined) continue;
      const rank = REDFISH_ROLES.indexOf(id);
      if (best === undefined || rank < best) best = rank;
    }
    return best === undefined ? undefined : REDFISH_ROLES[best];
  }

  const accountUri = (username: string) => `${ACCOUNTS_URI}/${encodeURIComponent(username)}`;
  const sessionUri = (id: string) => `${SESSIONS}/${encodeURIComponent(id)}`;

  function send(reply: FastifyReply, status: number, body: object, headers: Record<string, string> = {}): FastifyReply {
    const type = (body as { '@odata.type'?: unknown })['@odata.type'];
    if (typeof type === 'string') reply.header('link', describedBy(type));
    return reply.code(status).headers({ ...ODATA_HEADERS, ...headers }).type('application/json; charset=utf-8').send(body);
  }

  function sendFailure(reply: FastifyReply, f: RedfishFailure): FastifyReply {
    const headers: Record<string, string> = {};
    if (f.status === 401) headers['www-authenticate'] = WWW_AUTHENTICATE;
    return send(reply, f.status, errorBody(f.messages, f.detail), headers);
  }

  /**
   * Whether a client reached us over plain HTTP through a proxy that says so
   * (`X-Forwarded-Proto: http`, honoured when trustProxy names the proxy).
   * Direct plain HTTP is only possible with --plain-http, a deliberate choice;
   * a TLS listener never sees plain HTTP at all.
   */
  function overPlainHttp(req: FastifyRequest): boolean {
    const fwd = header(req, 'x-forwarded-proto');
    return req.protocol === 'http' && fwd !== undefined && fwd.split(',')[0]!.trim().toLowerCase() === 'http';
  }

  function requireHttps(req: FastifyRequest): void {
    if (overPlainHttp(req)) {
      fail(403, [generalError('Send credentials over HTTPS only: use the https:// URL of this service.')], 'Credentials are refused over plain HTTP.');
    }
  }

  /** Authenticates the request (X-Auth-Token, else HTTP Basic); cookies are never looked at (DSP0266 forbids them). */
  async function authenticate(req: FastifyRequest): Promise<Caller> {
    const token = header(req, 'x-auth-token');
    if (token !== undefined) {
      const s = await sessions.authenticate(token, isUserActivity(req), 'redfish');
      if (!s) return fail(401, [message('NoValidSession')]);
      const role = redfishRole(s.roles);
      if (!role) return fail(403, [message('InsufficientPrivilege')], 'The account has no Redfish role.');
      return { username: s.username, role, privileges: new Set(ROLE_PRIVILEGES[role]), mustChangePassword: s.mustChangePassword, session: s };
    }
    const basic = basicCredentials(req);
    if (basic) {
      requireHttps(req);
      const checked = await sessions.verifyCredentials(
        { provider: cfg.provider, username: basic.username, password: basic.password, requiredRoles: mappedRoles },
        requestContext(req, 'redfish'),
      );
      if (checked.kind === 'invalid_credentials') return fail(401, [message('NoValidSession')]);
      if (checked.kind === 'forbidden') return fail(403, [message('InsufficientPrivilege')], 'The account has no Redfish role.');
      const p = checked.principal;
      const role = redfishRole(p.roles)!;
      return { username: p.username, role, privileges: new Set(ROLE_PRIVILEGES[role]), mustChangePassword: p.mustChangePassword, session: undefined };
    }
    return fail(401, [message('NoValidSession')]);
  }

  /** The forced password change (DSP0266 "Password change required"): only the own account's GET and PATCH of Password, and logout. */
  function gate(caller: Caller, action: SessionAction): void {
    try {
      sessions.assertMay(caller, action);
    } catch (e) {
      if (isCoreError(e) && e.code === 'password_change_required') fail(403, [message('PasswordChangeRequired', accountUri(caller.username))]);
      throw e;
    }
  }

  function need(caller: Caller, privilege: Privilege): void {
    if (!caller.privileges.has(privilege)) fail(403, [message('InsufficientPrivilege')], `The operation needs the ${privilege} privilege.`);
  }

  /** `$`-parameters are OData/Redfish queries this service does not implement (ProtocolFeaturesSupported says so): 501. Others are ignored. */
  function checkQuery(req: FastifyRequest): void {
    const q = req.query as Record<string, unknown> | undefined;
    const unsupported = q ? Object.keys(q).find((k) => k.startsWith('$')) : undefined;
    if (unsupported !== undefined) fail(501, [message('QueryParameterUnsupported', unsupported)]);
  }

  function ifMatch(req: FastifyRequest, current: string): void {
    if (!ifMatchPasses(header(req, 'if-match'), current)) fail(412, [message('PreconditionFailed')]);
  }

  // ---- representations --------------------------------------------------------------------------

  function serviceRoot() {
    return {
      '@odata.id': `${REDFISH_ROOT}/`,
      '@odata.type': TYPES.ServiceRoot,
      Id: 'RootService',
      Name: 'Root Service',
      RedfishVersion: REDFISH_VERSION,
      UUID: uuid,
      Product: cfg.product,
      ProtocolFeaturesSupported: {
        ExpandQuery: { ExpandAll: false, Levels: false, Links: false, NoLinks: false },
        SelectQuery: false,
        FilterQuery: false,
        OnlyMemberQuery: false,
        ExcerptQuery: false,
      },
      SessionService: { '@odata.id': SESSION_SERVICE },
      AccountService: { '@odata.id': ACCOUNT_SERVICE },
      Links: { Sessions: { '@odata.id': SESSIONS } },
    };
  }

  async function sessionService() {
    const s = await settings.get();
    return {
      '@odata.id': SESSION_SERVICE,
      '@odata.type': TYPES.SessionService,
      Id: 'SessionService',
      Name: 'Session Service',
      Description: 'Session Service',
      Status: { State: 'Enabled', Health: 'OK' },
      ServiceEnabled: true,
      // The shared inactivity setting (minutes; 0 = never, which Redfish cannot express: then left out).
      ...(s.InactivityTimeout > 0 && { SessionTimeout: s.InactivityTimeout * 60 }),
      AbsoluteSessionTimeout: s.SessionLifetime * 60,
      AbsoluteSessionTimeoutEnabled: true,
      Sessions: { '@odata.id': SESSIONS },
    };
  }

  function sessionView(s: SessionRecord) {
    const idleEnd = s.idleTimeoutMs > 0 ? s.lastAccessedAt + s.idleTimeoutMs : Infinity;
    return {
      '@odata.id': sessionUri(s.id),
      '@odata.type': TYPES.Session,
      Id: s.id,
      Name: 'User Session',
      Description: 'Manager User Session',
      UserName: s.username,
      Password: null,
      SessionType: s.dialect === 'redfish' ? 'Redfish' : 'OEM',
      // Sessions opened through another dialect say which (hcx, lxca, …).
      ...(s.dialect !== 'redfish' && { OemSessionType: s.dialect }),
      ClientOriginIPAddress: s.clientAddress,
      CreatedTime: isoSeconds(s.createdAt),
      ExpirationTime: isoSeconds(Math.min(s.expiresAt, idleEnd)),
    };
  }

  async function accountService() {
    const s = await settings.get();
    return {
      '@odata.id': ACCOUNT_SERVICE,
      '@odata.type': TYPES.AccountService,
      Id: 'AccountService',
      Name: 'Account Service',
      Description: 'Account Service',
      Status: { State: 'Enabled', Health: 'OK' },
      ServiceEnabled: true,
      MinPasswordLength: s.MinimumPasswordLength,
      MaxPasswordLength: MAX_PASSWORD_LENGTH,
      AccountLockoutThreshold: s.MaximumLoginFailures,
      // LockoutTime 0 locks until an administrator unlocks; Redfish's 0 would mean "no lockout", so it is left out then.
      ...(s.LockoutTime > 0 && { AccountLockoutDuration: s.LockoutTime * 60 }),
      AccountLockoutCounterResetAfter: COUNTER_RESET_SECONDS,
      AccountLockoutCounterResetEnabled: true,
      PasswordExpirationDays: s.MaximumPasswordExpiration > 0 ? s.MaximumPasswordExpiration : null,
      EnforcePasswordHistoryCount: s.MinimumPasswordReuseCycle,
      // The ChangePassword action is offered, and PATCH of Password works too.
      RequireChangePasswordAction: false,
      Accounts: { '@odata.id': ACCOUNTS_URI },
      Roles: { '@odata.id': ROLES },
    };
  }

  async function accountView(a: Account) {
    const role = redfishRole(a.roles);
    const locked = (await accounts.lockState(a.username)).locked;
    return {
      '@odata.id': accountUri(a.username),
      '@odata.type': TYPES.ManagerAccount,
      Id: a.username,
      Name: 'User Account',
      Description: 'User Account',
      Enabled: !a.disabled,
      Password: null,
      PasswordChangeRequired: a.mustChangePassword,
      AccountTypes: ['Redfish'],
      UserName: a.username,
      // An account with no Redfish role cannot use Redfish; it has no RoleId rather than an invented one.
      ...(role && { RoleId: role }),
      Locked: locked,
      ...(role && { Links: { Role: { '@odata.id': `${ROLES}/${role}` } } }),
      Actions: { '#ManagerAccount.ChangePassword': { target: `${accountUri(a.username)}/Actions/${CHANGE_PASSWORD}` } },
    };
  }

  function roleView(id: RedfishRoleId) {
    return {
      '@odata.id': `${ROLES}/${id}`,
      '@odata.type': TYPES.Role,
      Id: id,
      Name: 'User Role',
      Description: ROLE_DESCRIPTION[id],
      IsPredefined: true,
      AssignedPrivileges: ROLE_PRIVILEGES[id],
      OemPrivileges: [],
      RoleId: id,
    };
  }

  function collection(type: string, id: string, name: string, members: string[]) {
    return {
      '@odata.id': id,
      '@odata.type': type,
      Name: name,
      Members: members.map((m) => ({ '@odata.id': m })),
      'Members@odata.count': members.length,
    };
  }

  async function findAccount(id: string): Promise<Account> {
    try {
      return await accounts.get(id);
    } catch (e) {
      if (isCoreError(e) && e.code === 'not_found') return fail(404, [message('ResourceNotFound', 'ManagerAccount', id)]);
      throw e;
    }
  }

  /** Core input errors about a property, in Base registry terms; a password is never echoed. */
  function propertyError(e: unknown, property: string, value: unknown): never {
    if (isCoreError(e) && e.code === 'invalid_input') {
      const detail = e.message;
      if (property === 'Password') return fail(400, [message('PropertyValueError', 'Password')], detail);
      return fail(400, [message('PropertyValueIncorrect', property, shown(value))], detail);
    }
    throw e;
  }

  // ---- handlers -----------------------------------------------------------------------------------

  async function login(req: FastifyRequest, reply: FastifyReply) {
    requireHttps(req);
    const body = objectBody(req.body);
    const problems: RedfishMessage[] = [];
    for (const k of properties(body)) if (k !== 'UserName' && k !== 'Password') problems.push(message('PropertyUnknown', k));
    for (const k of ['UserName', 'Password'] as const) {
      if (!Object.hasOwn(body, k)) problems.push(message('PropertyMissing', k));
      else if (typeof body[k] !== 'string') problems.push(k === 'Password' ? message('PropertyValueError', k) : message('PropertyValueTypeError', shown(body[k]), k));
    }
    if (problems.length > 0) return fail(400, problems);
    const result = await sessions.login(
      { provider: cfg.provider, username: body.UserName as string, password: body.Password as string, requiredRoles: mappedRoles },
      requestContext(req, 'redfish'),
    );
    if (result.kind === 'invalid_credentials') return fail(401, [message('NoValidSession')]);
    if (result.kind === 'forbidden') return fail(403, [message('InsufficientPrivilege')], 'The account has no Redfish role.');
    if (result.kind === 'too_many_sessions') return fail(403, [message('SessionLimitExceeded')], `The limit (MaxConcurrentSessions) is ${result.limit}.`);
    const s = result.session;
    const view = {
      ...sessionView(s),
      ...(s.mustChangePassword && { '@Message.ExtendedInfo': [message('PasswordChangeRequired', accountUri(s.username))] }),
    };
    // No cookie: the token is the credential (DSP0266 forbids cookie authentication).
    return send(reply, 201, view, { location: sessionUri(s.id), 'x-auth-token': result.token });
  }

  async function listSessions(req: FastifyRequest, reply: FastifyReply, caller: Caller) {
    const all = await sessions.listSessions(caller.privileges.has('ConfigureManager') ? undefined : { username: caller.username });
    return send(reply, 200, collection(TYPES.SessionCollection, SESSIONS, 'Session Collection', all.map((s) => sessionUri(s.id))));
  }

  async function targetSession(id: string, caller: Caller): Promise<SessionRecord> {
    const s = id.length <= 128 ? await sessions.getSession(id) : null;
    if (!s) return fail(404, [message('ResourceNotFound', 'Session', id)]);
    if (s.username !== caller.username) need(caller, 'ConfigureManager');
    return s;
  }

  async function getSession(req: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply, caller: Caller) {
    return send(reply, 200, sessionView(await targetSession(req.params.id, caller)));
  }

  async function deleteSession(req: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply, caller: Caller) {
    const s = await targetSession(req.params.id, caller);
    const ctx = requestContext(req, 'redfish');
    if (caller.session?.id === s.id) await sessions.logout(s, ctx);
    else await sessions.revokeSession(s.id, ctx, caller.username, s.username === caller.username ? 'session.logout' : 'session.revoke');
    return send(reply, 200, { '@Message.ExtendedInfo': [message('SessionTerminated')] });
  }

  async function patchSessionService(req: FastifyRequest, reply: FastifyReply, caller: Caller) {
    const current = await sessionService();
    ifMatch(req, etagOf(current));
    const body = objectBody(req.body);
    const keys = properties(body);
    if (keys.length === 0) return fail(400, [message('NoOperation')]);
    const problems: RedfishMessage[] = [];
    const notes: RedfishMessage[] = [];
    let minutes: number | undefined;
    for (const k of keys) {
      const v = body[k];
      if (k === 'SessionTimeout') {
        if (typeof v !== 'number' || !Number.isInteger(v)) problems.push(message('PropertyValueTypeError', shown(v), k));
        else if (v < SESSION_TIMEOUT_MIN || v > SESSION_TIMEOUT_MAX) problems.push(message('PropertyValueOutOfRange', shown(v), k));
        else {
          // The shared setting is in whole minutes: the nearest one, at least one.
          minutes = Math.max(1, Math.round(v / 60));
          if (minutes * 60 !== v) notes.push(message('PropertyValueModified', k, String(minutes * 60)));
        }
      } else if (Object.hasOwn(current, k)) problems.push(message('PropertyNotWritable', k));
      else problems.push(message('PropertyUnknown', k));
    }
    if (problems.length > 0) return fail(400, problems);
    const { changed } = await settings.set({ InactivityTimeout: minutes! });
    await deps.audit.record('settings.change', requestContext(req, 'redfish'), caller.username, { changed: JSON.stringify(changed) });
    const next = await sessionService();
    return send(reply, 200, { ...next, ...(notes.length > 0 && { '@Message.ExtendedInfo': notes }) }, { etag: etagOf(next) });
  }

  async function listAccounts(_req: FastifyRequest, reply: FastifyReply, caller: Caller) {
    // Without ConfigureUsers: the caller's own account, if it is a local one (a directory or PAM user has none here).
    const all = caller.privileges.has('ConfigureUsers') ? await accounts.list() : (await accounts.list()).filter((a) => a.username === caller.username);
    return send(reply, 200, collection(TYPES.ManagerAccountCollection, ACCOUNTS_URI, 'Accounts Collection', all.map((a) => accountUri(a.username))));
  }

  async function getAccount(req: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply, caller: Caller) {
    if (req.params.id !== caller.username) need(caller, 'ConfigureUsers');
    const view = await accountView(await findAccount(req.params.id));
    return send(reply, 200, view, { etag: etagOf(view) });
  }

  function checkRoleId(v: unknown, problems: RedfishMessage[]): RedfishRoleId | undefined {
    if (typeof v !== 'string') problems.push(message('PropertyValueTypeError', shown(v), 'RoleId'));
    else if (!redfishNames.includes(v)) problems.push(message('PropertyValueNotInList', v, 'RoleId'));
    else return v as RedfishRoleId;
    return undefined;
  }

  function checkBoolean(body: Body, k: string, problems: RedfishMessage[]): void {
    if (Object.hasOwn(body, k) && typeof body[k] !== 'boolean') problems.push(message('PropertyValueTypeError', shown(body[k]), k));
  }

  async function createAccount(req: FastifyRequest, reply: FastifyReply, caller: Caller) {
    need(caller, 'ConfigureUsers');
    const body = objectBody(req.body);
    const problems: RedfishMessage[] = [];
    const known = new Set(['UserName', 'Password', 'RoleId', 'Enabled', 'PasswordChangeRequired', 'AccountTypes']);
    for (const k of properties(body)) if (!known.has(k)) problems.push(message('PropertyUnknown', k));
    for (const k of ['UserName', 'Password', 'RoleId']) if (!Object.hasOwn(body, k)) problems.push(message('PropertyMissing', k));
    if (Object.hasOwn(body, 'UserName') && typeof body.UserName !== 'string') problems.push(message('PropertyValueTypeError', shown(body.UserName), 'UserName'));
    if (Object.hasOwn(body, 'Password') && typeof body.Password !== 'string') problems.push(message('PropertyValueError', 'Password'));
    const role = Object.hasOwn(body, 'RoleId') ? checkRoleId(body.RoleId, problems) : undefined;
    checkBoolean(body, 'Enabled', problems);
    checkBoolean(body, 'PasswordChangeRequired', problems);
    if (Object.hasOwn(body, 'AccountTypes')) {
      const t = body.AccountTypes;
      if (!Array.isArray(t) || t.some((x) => typeof x !== 'string')) problems.push(message('PropertyValueTypeError', shown(t), 'AccountTypes'));
      else for (const x of t as string[]) if (x !== 'Redfish') problems.push(message('PropertyValueNotInList', x, 'AccountTypes'));
    }
    if (problems.length > 0) return fail(400, problems);
    const username = body.UserName as string;
    let account: Account;
    try {
      account = await accounts.create({ username, password: body.Password as string, roles: cfg.accountRoles[role!], mustChangePassword: body.PasswordChangeRequired === true });
    } catch (e) {
      if (e instanceof DuplicateAccountError) return fail(409, [message('ResourceAlreadyExists', 'ManagerAccount', 'UserName', username)]);
      if (isCoreError(e) && e.code === 'invalid_input') return propertyError(e, e.message.startsWith('password') ? 'Password' : 'UserName', username);
      throw e;
    }
    const ctx = requestContext(req, 'redfish');
    await deps.audit.record('account.create', ctx, account.username, { by: caller.username, roles: JSON.stringify(account.roles) });
    if (body.Enabled === false) await accounts.setDisabled(account.username, true, ctx, caller.username);
    const view = await accountView(await accounts.get(account.username));
    return send(reply, 201, view, { location: accountUri(account.username), etag: etagOf(view) });
  }

  async function patchAccount(req: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply, caller: Caller) {
    const own = req.params.id === caller.username;
    const body = objectBody(req.body);
    const keys = properties(body);
    // Changing one's own password needs ConfigureSelf (every role has it, a must-change session too); anything else ConfigureUsers.
    const onlyOwnPassword = own && keys.length > 0 && keys.every((k) => k === 'Password');
    if (!onlyOwnPassword) {
      gate(caller, 'use');
      need(caller, 'ConfigureUsers');
    }
    const account = await findAccount(req.params.id);
    const current = await accountView(account);
    ifMatch(req, etagOf(current));
    if (keys.length === 0) return fail(400, [message('NoOperation')]);
    const problems: RedfishMessage[] = [];
    const writable = new Set(['Password', 'RoleId', 'Enabled', 'Locked', 'PasswordChangeRequired']);
    for (const k of keys) {
      if (writable.has(k)) continue;
      problems.push(Object.hasOwn(current, k) ? message('PropertyNotWritable', k) : message('PropertyUnknown', k));
    }
    if (Object.hasOwn(body, 'Password') && typeof body.Password !== 'string') problems.push(message('PropertyValueError', 'Password'));
    const role = Object.hasOwn(body, 'RoleId') ? checkRoleId(body.RoleId, problems) : undefined;
    checkBoolean(body, 'Enabled', problems);
    checkBoolean(body, 'PasswordChangeRequired', problems);
    checkBoolean(body, 'Locked', problems);
    // Only a lock can be lifted here; locks come from failed logins.
    if (body.Locked === true) problems.push(message('PropertyValueNotInList', 'true', 'Locked'));
    if (problems.length > 0) return fail(400, problems);

    const ctx = requestContext(req, 'redfish');
    const name = account.username;
    if (typeof body.Password === 'string') {
      try {
        if (own && body.PasswordChangeRequired === undefined) await accounts.setOwnPassword(name, body.Password, caller.session?.id, ctx);
        else await accounts.setPassword(name, body.Password, { mustChange: body.PasswordChangeRequired === true }, ctx, caller.username);
      } catch (e) {
        return propertyError(e, 'Password', undefined);
      }
    } else if (typeof body.PasswordChangeRequired === 'boolean' && body.PasswordChangeRequired !== account.mustChangePassword) {
      // The account and its live sessions meet the forced-change gate from the next call on.
      await accounts.setMustChangePassword(name, body.PasswordChangeRequired, ctx, caller.username);
    }
    if (role !== undefined && role !== current.RoleId) await accounts.update(name, { roles: cfg.accountRoles[role] });
    if (typeof body.Enabled === 'boolean' && body.Enabled === account.disabled) await accounts.setDisabled(name, !body.Enabled, ctx, caller.username);
    if (body.Locked === false) await accounts.unlock(name, ctx, caller.username);
    const view = await accountView(await accounts.get(name));
    return send(reply, 200, { ...view, '@Message.ExtendedInfo': [message('AccountModified')] }, { etag: etagOf(view) });
  }

  /**
   * `ManagerAccount.ChangePassword` {NewPassword, SessionAccountPassword}: the password
   * of the caller's own account proves it is still the caller. On the own account it
   * is the user's change (other sessions end, this one stays, must-change cleared); on
   * another's (ConfigureUsers) it is an administrator's reset, after the caller's
   * password passed the same checks as a login.
   */
  async function changePassword(req: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply, caller: Caller) {
    const own = req.params.id === caller.username;
    if (!own) {
      gate(caller, 'use');
      need(caller, 'ConfigureUsers');
    }
    const account = await findAccount(req.params.id);
    const body = objectBody(req.body);
    const problems: RedfishMessage[] = [];
    for (const k of properties(body)) if (k !== 'NewPassword' && k !== 'SessionAccountPassword') problems.push(message('ActionParameterUnknown', CHANGE_PASSWORD, k));
    for (const k of ['NewPassword', 'SessionAccountPassword']) {
      if (!Object.hasOwn(body, k)) problems.push(message('ActionParameterMissing', CHANGE_PASSWORD, k));
      else if (typeof body[k] !== 'string') problems.push(message('ActionParameterValueError', k, CHANGE_PASSWORD));
    }
    if (problems.length > 0) return fail(400, problems);
    const next = body.NewPassword as string;
    const current = body.SessionAccountPassword as string;
    const ctx = requestContext(req, 'redfish');
    const wrongCurrent = () => fail(400, [message('ActionParameterValueError', 'SessionAccountPassword', CHANGE_PASSWORD)], 'It is not the password of the account of this session.');
    try {
      if (own) {
        if (!(await accounts.changeOwnPassword(account.username, current, next, caller.session?.id, ctx))) return wrongCurrent();
      } else {
        const checked = await sessions.verifyCredentials({ provider: cfg.provider, username: caller.username, password: current, requiredRoles: mappedRoles }, ctx);
        if (checked.kind !== 'ok') return wrongCurrent();
        await accounts.setPassword(account.username, next, { mustChange: false }, ctx, caller.username);
      }
    } catch (e) {
      if (isCoreError(e) && e.code === 'invalid_input') return fail(400, [message('ActionParameterValueError', 'NewPassword', CHANGE_PASSWORD)], e.message);
      throw e;
    }
    return send(reply, 200, { '@Message.ExtendedInfo': [message('Success')] });
  }

  async function deleteAccount(req: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply, caller: Caller) {
    need(caller, 'ConfigureUsers');
    const account = await findAccount(req.params.id);
    await accounts.delete(account.username);
    await deps.audit.record('account.delete', requestContext(req, 'redfish'), account.username, { by: caller.username });
    return send(reply, 200, { '@Message.ExtendedInfo': [message('AccountRemoved')] });
  }

  function roleOf(id: string): RedfishRoleId {
    if (!redfishNames.includes(id)) return fail(404, [message('ResourceNotFound', 'Role', id)]);
    return id as RedfishRoleId;
  }

  // ---- routing -----------------------------------------------------------------------------------

  /** A handler of a protected resource: authenticated, past the must-change gate unless it says otherwise, with Login. */
  interface Protected {
    auth: true;
    /** What a must-change session may do here: 'use' = nothing (the default). */
    action?: SessionAction | ((req: FastifyRequest, caller: Caller) => SessionAction);
    handle(req: FastifyRequest, reply: FastifyReply, caller: Caller): Promise<FastifyReply>;
  }
  interface Public {
    auth: false;
    handle(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> | FastifyReply;
  }
  type Handler = Protected | Public;

  function wrap(h: Handler, allow: string): RouteHandlerMethod {
    return async (req, reply) => {
      try {
        if (req.method === 'GET' || req.method === 'HEAD') reply.header('allow', allow);
        if (!h.auth) {
          checkQuery(req);
          return await h.handle(req, reply);
        }
        const caller = await authenticate(req);
        const action = typeof h.action === 'function' ? h.action(req, caller) : (h.action ?? 'use');
        gate(caller, action);
        need(caller, 'Login');
        checkQuery(req);
        return await h.handle(req, reply, caller);
      } catch (e) {
        if (e instanceof RedfishFailure) return sendFailure(reply, e);
        if (isCoreError(e) && e.code === 'password_change_required') return sendFailure(reply, new RedfishFailure(403, [message('PasswordChangeRequired', ACCOUNTS_URI)]));
        throw e; // the app's error handler renders it with redfishRenderer
      }
    };
  }

  const ownAccount = (req: FastifyRequest, caller: Caller): SessionAction =>
    (req.params as { id?: string }).id === caller.username ? 'change_password' : 'use';

  const docs = redfishDocs();

  function register(app: FastifyInstance) {
    const route = { config: { dialect: 'redfish' } };
    /**
     * One resource: its handlers, under its path with and without the trailing slash.
     * Other methods get the app's 405 with Allow (computed from these routes), rendered by redfishRenderer.
     */
    function resource(path: string, handlers: Partial<Record<Method, Handler>>) {
      const methods = Object.keys(handlers) as Method[];
      const allow = [...(handlers.GET ? ['GET', 'HEAD'] : []), ...methods.filter((m) => m !== 'GET')].join(', ');
      const urls = path.endsWith('/') ? [path, path.slice(0, -1)] : [path, `${path}/`];
      for (const [i, url] of urls.entries()) {
        for (const m of methods) {
          // The document (src/dialects/redfish/openapi.ts); the other spelling of the path is the same operation without its operationId.
          const { operationId, ...rest } = (docs.routes[path]?.[m] ?? {}) as FastifySchema;
          const schema = i === 0 ? { ...rest, operationId } : { ...rest, description: `The same as ${openApiPath(path)}.${rest.description ? ` ${rest.description}` : ''}` };
          app.route({ ...route, method: m, url, schema, handler: wrap(handlers[m]!, allow) });
        }
      }
    }

    resource('/redfish', { GET: { auth: false, handle: (_req, reply) => send(reply, 200, { v1: '/redfish/v1/' }) } });
    resource(`${REDFISH_ROOT}/`, { GET: { auth: false, handle: (_req, reply) => send(reply, 200, serviceRoot()) } });
    resource(`${REDFISH_ROOT}/odata`, { GET: { auth: false, handle: (_req, reply) => send(reply, 200, ODATA_SERVICE_DOCUMENT) } });
    app.route({
      ...route,
      method: 'GET',
      url: `${REDFISH_ROOT}/$metadata`,
      schema: docs.routes[`${REDFISH_ROOT}/$metadata`]!.GET! as FastifySchema,
      handler: async (_req, reply) => reply.code(200).headers({ ...ODATA_HEADERS, allow: 'GET, HEAD' }).type('application/xml; charset=utf-8').send(METADATA_XML),
    });

    resource(SESSION_SERVICE, {
      GET: {
        auth: true,
        handle: async (_req, reply) => {
          const view = await sessionService();
          return send(reply, 200, view, { etag: etagOf(view) });
        },
      },
      PATCH: {
        auth: true,
        handle: async (req, reply, caller) => {
          need(caller, 'ConfigureManager');
          return patchSessionService(req, reply, caller);
        },
      },
    });
    resource(SESSIONS, {
      GET: { auth: true, handle: listSessions },
      POST: { auth: false, handle: login },
    });
    resource(`${SESSIONS}/:id`, {
      GET: { auth: true, handle: (req, reply, caller) => getSession(req as FastifyRequest<{ Params: { id: string } }>, reply, caller) },
      DELETE: {
        auth: true,
        action: 'logout',
        handle: (req, reply, caller) => deleteSession(req as FastifyRequest<{ Params: { id: string } }>, reply, caller),
      },
    });
    resource(ACCOUNT_SERVICE, {
      GET: { auth: true, handle: async (_req, reply) => send(reply, 200, await accountService()) },
    });
    resource(ACCOUNTS_URI, {
      GET: { auth: true, handle: listAccounts },
      POST: { auth: true, handle: createAccount },
    });
    resource(`${ACCOUNTS_URI}/:id`, {
      GET: { auth: true, action: ownAccount, handle: (req, reply, caller) => getAccount(req as FastifyRequest<{ Params: { id: string } }>, reply, caller) },
      PATCH: { auth: true, action: ownAccount, handle: (req, reply, caller) => patchAccount(req as FastifyRequest<{ Params: { id: string } }>, reply, caller) },
      DELETE: { auth: true, handle: (req, reply, caller) => deleteAccount(req as FastifyRequest<{ Params: { id: string } }>, reply, caller) },
    });
    resource(`${ACCOUNTS_URI}/:id/Actions/${CHANGE_PASSWORD}`, {
      POST: { auth: true, action: ownAccount, handle: (req, reply, caller) => changePassword(req as FastifyRequest<{ Params: { id: string } }>, reply, caller) },
    });
    resource(ROLES, {
      GET: { auth: true, handle: async (_req, reply) => send(reply, 200, collection(TYPES.RoleCollection, ROLES, 'Roles Collection', REDFISH_ROLES.map((r) => `${ROLES}/${r}`))) },
    });
    resource(`${ROLES}/:id`, {
      GET: { auth: true, handle: async (req, reply) => send(reply, 200, roleView(roleOf((req.params as { id: string }).id))) },
    });
  }

  /**
   * The Redfish session check (a client's GET of its own Session) before Fastify: the
   * same 200, headers and body as the route, only for a live session of a user with a
   * Redfish role that is not under a forced password change, reading itself. Anything
   * else is handed to the route unchanged.
   */
  const fastRoutes: FastRoute[] = [
    {
      method: 'GET',
      path: `${SESSIONS}/`,
      prefix: true,
      headers: { allow: 'GET, HEAD, DELETE', link: describedBy(TYPES.Session), ...ODATA_HEADERS },
      answer: (req) => fastSessionCheck(sessions, req, 'x-auth-token', (s) => fastView(s, req.url)),
    },
  ];

  /** Each session's view and URI, made again when its ExpirationTime (to the second, from the last access) moved. */
  const views = new WeakMap<SessionRecord, { second: number; uri: string; body: string }>();
  function fastView(s: SessionRecord, url: string | undefined): string | undefined {
    if (s.mustChangePassword || !redfishRole(s.roles)) return undefined;
    const second = Math.floor(Math.min(s.expiresAt, s.idleTimeoutMs > 0 ? s.lastAccessedAt + s.idleTimeoutMs : Infinity) / 1000);
    let view = views.get(s);
    if (view?.second !== second) views.set(s, (view = { second, uri: sessionUri(s.id), body: JSON.stringify(sessionView(s)) }));
    return url === view.uri ? view.body : undefined;
  }

  return { ...redfishRenderer, register, fastRoutes, openapi: docs.info };
}

