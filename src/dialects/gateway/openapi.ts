import type { DialectRenderer, ProblemCode } from '../../http/common.js';
import { TRANSPORT_PROBLEMS, distinct, jsonResponse, problemResponses, type DialectDocInfo, type Security } from '../../http/openapi.js';
import type { IdentityHeaderNames } from '../../config/gateway.js';
import type { Convention } from './original.js';

/** The gateway dialect's schemas for its OpenAPI document (docs/gateway.md). */

type Json = Record<string, unknown>;
const str = { type: 'string' } as const;

/** `{error, error_description, location?}`: the OAuth 2.0 error shape (RFC 6749 §5.2) every gateway answer shares. */
export const gatewayErrorSchema = {
  type: 'object',
  required: ['error', 'error_description'],
  additionalProperties: false,
  properties: {
    error: { type: 'string', description: 'The core\'s problem code, or an OAuth code (invalid_client, invalid_request) on introspection.' },
    error_description: { type: 'string', description: 'Human-readable text; never names the rule or the backend.' },
    location: { type: 'string', description: 'On a browser\'s login redirect: the login page, with the return URL as rd=.' },
  },
} as const;

/** The RFC 7662 answer: `{active: false}`, or the live session. */
const introspectionSchema = {
  oneOf: [
    { type: 'object', required: ['active'], additionalProperties: false, properties: { active: { const: false } } },
    {
      type: 'object',
      required: ['active', 'username', 'sub', 'roles', 'token_type', 'exp', 'iat', 'sid', 'auth_source', 'dialect'],
      additionalProperties: false,
      properties: {
        active: { const: true },
        username: str,
        sub: { type: 'string', description: 'The same as username.' },
        roles: { type: 'array', items: str },
        token_type: { const: 'Bearer' },
        exp: { type: 'integer', description: 'Unix time (seconds) the session ends: its absolute end or its idle end, whichever is first.' },
        iat: { type: 'integer', description: 'Unix time (seconds) the session was created.' },
        sid: { type: 'string', description: 'The session\'s id (not its token).' },
        auth_source: { type: 'string', description: 'The identity source that checked the password (local, ldap, pam, …).' },
        dialect: { type: 'string', description: 'The dialect the session was created through.' },
      },
    },
  ],
} as const;
const ACTIVE = {
  active: true,
  username: 'alice',
  sub: 'alice',
  roles: ['Operator'],
  token_type: 'Bearer',
  exp: 1795939200,
  iat: 1795910400,
  sid: '3f1c2a9e-7b1d-4c55-9a43-2d5e8f0b6c11',
  auth_source: 'local',
  dialect: 'lxca',
};

const header = (name: string, description: string, required = false): Json => ({ name, in: 'header', required, description, schema: str });

/** What each proxy sends about the original request. */
const REQUEST_HEADERS: Record<Convention, Json[]> = {
  nginx: [
    header('X-Original-URL', 'The original absolute URL (`$scheme://$http_host$request_uri`, as `portcullis proxy-config nginx` sets it).'),
    header('X-Original-Method', 'The original method (default: X-Forwarded-Method, else GET).'),
    header('X-Forwarded-Method', 'Without X-Original-URL: the original method.'),
    header('X-Forwarded-Proto', 'Without X-Original-URL: the original scheme (http or https).'),
    header('X-Forwarded-Host', 'Without X-Original-URL: the original Host.'),
    header('X-Forwarded-Uri', 'Without X-Original-URL: the original path and query.'),
  ],
  forward: [
    header('X-Forwarded-Method', 'The original method (Traefik ForwardAuth, Caddy forward_auth).'),
    header('X-Forwarded-Proto', 'The original scheme (http or https).'),
    header('X-Forwarded-Host', 'The original Host (the first one, if a list).'),
    header('X-Forwarded-Uri', 'The original path and query.'),
  ],
  envoy: [
    header('Host', 'The original Host (Envoy\'s check request keeps it).'),
    header('X-Forwarded-Proto', 'The original scheme (http or https).'),
  ],
};

/** Headers of every check: how the client's credentials and preferences reach the gateway. */
const CLIENT_HEADERS: Json[] = [
  header('Accept', 'A browser preferring text/html over JSON (and not sending X-Requested-With) is sent to the login page instead of a plain 401.'),
  header('Sec-Fetch-Site', 'With gateway.refuseCrossSiteWrites, a cross-site write carried by the session cookie alone is refused (403).'),
];

const ENVOY_PATH_PARAM: Json = {
  name: 'path',
  in: 'path',
  required: true,
  'x-multi-segment': true,
  description: 'The original request\'s path and query after Envoy\'s `path_prefix`: any number of segments, possibly empty.',
  schema: str,
};

/** The methods documented for the checks. The routes answer every method Fastify routes: HEAD is GET's operation, QUERY (not in OpenAPI 3.1) is answered the same but not documented. */
export const DOCUMENTED_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE'] as const;

export function gatewayDocs(renderer: DialectRenderer, opts: { basic: boolean; identityHeaders: IdentityHeaderNames; sessionCookie: string }) {
  const narrow = (bodies: object[]) => ({ properties: { error: { enum: distinct(bodies.map((b) => (b as { error: string }).error)) } } });
  const errors = (codes: ProblemCode[]) => problemResponses(renderer, [...TRANSPORT_PROBLEMS, ...codes], gatewayErrorSchema, { narrow });
  const names = opts.identityHeaders;
  const identity: [string | undefined, string][] = [
    [names.user, 'The user name (empty on an anonymous rule).'],
    [names.groups, 'The roles, comma-separated.'],
    [names.name, 'The user name, as the display name.'],
    [names.email, 'Always empty (no address is known): so a client\'s own value is overwritten upstream.'],
    [names.sessionId, 'The session\'s id (not its token); empty with HTTP Basic.'],
    [names.authSource, 'The identity source that checked the password.'],
  ];
  const identityHeaders = Object.fromEntries(
    identity
      .filter((e): e is [string, string] => e[0] !== undefined)
      .map(([n, d]) => [n, { description: `${d} Non-ASCII values are percent-encoded UTF-8.`, required: true, schema: { type: 'string', pattern: '^[\\x20-\\x7e]*$' } }]),
  );
  const session: Security = [{ bearer: [] }, { hmToken: [] }, { sessionCookie: [] }, ...(opts.basic ? [{ basic: [] }] : [])];
  const loginBody = (error: string) => ({ error, error_description: 'Log in first.', location: '/portcullis/login?rd=https%3A%2F%2Fapp.example.com%2Fjobs' });
  const loginSchema = {
    allOf: [gatewayErrorSchema, { required: ['location'], properties: { error: { enum: ['invalid_session', 'password_change_required'] } } }],
  };
  const locationHeader = (required: boolean) => ({ description: 'The login page, with the return URL as rd= (only to the configured returnDomains, or a path).', required, schema: str });

  /** `subtree`: Envoy's path_prefix route with the original path after it (`/ext-authz/{path}`). */
  function check(conv: Convention, method: string, subtree = false): Json {
    const base = errors(['invalid_session', 'forbidden', 'password_change_required']);
    const r401 = base['401'] as Json & { headers: Record<string, Json>; content: Record<string, Json & { examples: Json }> };
    const media = r401.content['application/json']!;
    const responses: Record<string, Json> = {
      200: { description: 'Allowed: pass the request upstream with these identity headers (every one is sent, empty ones included, so a client\'s own copy is overwritten). No body.', headers: identityHeaders },
      ...base,
    };
    if (conv === 'nginx') {
      // auth_request passes on only 401 and 403: a browser's login redirect is a 401 with Location, which the generated config turns into the 302.
      responses['401'] = {
        description: `${r401.description as string} A browser (Accept prefers text/html) with a return URL allowed: the same 401 with Location and \`location\` in the body and no WWW-Authenticate; the generated nginx config answers it with a 302 to Location.`,
        headers: { 'WWW-Authenticate': { ...r401.headers['WWW-Authenticate'], required: false }, Location: locationHeader(false) },
        content: {
          'application/json': {
            schema: { allOf: [gatewayErrorSchema, { properties: { error: { enum: ['invalid_session', 'password_change_required'] } } }] },
            examples: { ...media.examples, login_redirect: { value: loginBody('invalid_session') }, password_change_redirect: { value: loginBody('password_change_required') } },
          },
        },
      };
    } else {
      responses['302'] = {
        description: 'A browser (Accept prefers text/html) without a live session, or whose password must be changed: to the login page, with the return URL.',
        headers: { Location: locationHeader(true), 'WWW-Authenticate': r401.headers['WWW-Authenticate'] },
        content: { 'application/json': { schema: loginSchema, examples: { invalid_session: { value: loginBody('invalid_session') }, password_change_required: { value: loginBody('password_change_required') } } } },
      };
    }
    const what = { nginx: 'nginx auth_request', forward: 'Traefik ForwardAuth / Caddy forward_auth', envoy: 'Envoy ext_authz (HTTP service)' }[conv];
    return {
      summary: `Forward-auth check: ${what}`,
      description:
        `${what}: the proxy asks before passing a request upstream; the access rules (gateway.rules) decide on the original method, host and path. ` +
        '200 allows (with the identity headers), 401 asks for a session, 403 refuses (no rule allows it, a role is missing, an ambiguous path, or a password that must be changed first), ' +
        '400 is a proxy configuration that does not say what the original request was. The check never reads a body. ' +
        'A session is the token of any dialect (Authorization: Bearer, x-hm-authorization, or the XClarity session cookie)' +
        `${opts.basic ? '; HTTP Basic is accepted too (gateway.basic)' : ''}. ` +
        (method === 'GET' ? 'Allowed GET checks are answered before Fastify (the fast path), with the same status and headers.' : 'Proxies that forward the original method (Envoy, or nginx without proxy_method) ask with it.'),
      operationId: `${conv === 'nginx' ? 'nginxAuthRequest' : conv === 'forward' ? 'forwardAuth' : subtree ? 'envoyExtAuthzPath' : 'envoyExtAuthz'}${method[0]}${method.slice(1).toLowerCase()}`,
      tags: ['forward-auth'],
      security: [...session, {}] as Security,
      parameters: [...(subtree ? [ENVOY_PATH_PARAM] : []), ...REQUEST_HEADERS[conv], ...CLIENT_HEADERS],
      response: responses,
    };
  }

  const r = errors(['forbidden']);
  const r400 = r['400'] as Json & { content: Record<string, Json & { examples: Json }> };
  const introspect: Json = {
    summary: 'Token introspection (RFC 7662)',
    description:
      'Is this token a live session? The answer is `{"active": false}` for anything that is not (unknown, ended, expired, or a password that must be changed), ' +
      'or the session (user, roles, exp, …). The caller authenticates as a client of gateway.introspection.clients — HTTP Basic (client_secret_basic) or ' +
      'client_id and client_secret in the body (client_secret_post) — or with the session of an administrator. Asking never renews the session\'s idle timer.',
    operationId: 'introspect',
    tags: ['introspection'],
    security: [{ introspectionClient: [] }, { bearer: [] }, { hmToken: [] }, { sessionCookie: [] }, {}] as Security,
    requestBody: {
      required: true,
      content: Object.fromEntries(
        ['application/x-www-form-urlencoded', 'application/json'].map((t) => [
          t,
          {
            schema: {
              type: 'object',
              required: ['token'],
              properties: {
                token: { type: 'string', minLength: 1, maxLength: 4096, description: 'The session token to ask about.' },
                token_type_hint: { type: 'string', description: 'Accepted and ignored: every token is a session token.' },
                client_id: { type: 'string', description: 'client_secret_post: the client\'s id.' },
                client_secret: { type: 'string', description: 'client_secret_post: the client\'s secret.' },
              },
            },
            example: { token: 'b5Qv3xJ0mVq6S2cO2f3y2wq1pZkqQy8f8H3nq3Lk0aA' },
          },
        ]),
      ),
    },
    response: {
      200: jsonResponse('The RFC 7662 answer.', introspectionSchema, ACTIVE),
      ...r,
      400: {
        ...r400,
        description: `${r400.description as string} \`invalid_request\`: no token (or one over 4096 characters) in the body.`,
        content: {
          'application/json': {
            schema: { allOf: [gatewayErrorSchema, { properties: { error: { enum: ['invalid_input', 'invalid_request'] } } }] },
            examples: { ...r400.content['application/json']!.examples, invalid_request: { value: { error: 'invalid_request', error_description: 'Give the token to introspect as token=….' } } },
          },
        },
      },
      401: {
        description: '`invalid_client`: no client credentials or session, or wrong ones (the same answer whichever part was wrong).',
        headers: { 'WWW-Authenticate': { description: 'The authentication schemes the caller may use.', required: true, schema: { type: 'string', const: 'Basic realm="portcullis-introspection", Bearer realm="portcullis"' } } },
        content: {
          'application/json': {
            schema: { allOf: [gatewayErrorSchema, { properties: { error: { const: 'invalid_client' } } }] },
            example: { error: 'invalid_client', error_description: 'Client authentication failed.' },
          },
        },
      },
    },
  };

  return {
    info: {
      title: 'Portcullis — gateway (forward-auth and token introspection)',
      description:
        'Forward-auth for reverse proxies in front of the appliance\'s other services: nginx `auth_request` (/portcullis/auth/request), Traefik ForwardAuth and Caddy ' +
        '`forward_auth` (/portcullis/auth/forward), Envoy `ext_authz` (/portcullis/auth/ext-authz/…); and RFC 7662 token introspection (/portcullis/api/v1/introspect). ' +
        'Errors are `{"error", "error_description"}` (RFC 6749 §5.2). `portcullis proxy-config <proxy>` prints each proxy\'s configuration. Reference: docs/gateway.md.',
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'A session token of any dialect.' },
        hmToken: { type: 'apiKey', in: 'header', name: 'x-hm-authorization', description: 'A session token, as HCX sends it.' },
        sessionCookie: { type: 'apiKey', in: 'cookie', name: opts.sessionCookie, description: 'The XClarity session cookie (a browser\'s).' },
        ...(opts.basic && { basic: { type: 'http', scheme: 'basic', description: 'User name and password (gateway.basic), checked against the identity source and cached briefly.' } }),
        introspectionClient: { type: 'http', scheme: 'basic', description: 'An introspection client\'s id and secret (gateway.introspection.clients); or client_id and client_secret in the body.' },
      },
      errorSchema: gatewayErrorSchema,
    } satisfies DialectDocInfo,
    check,
    introspect,
  };
}
