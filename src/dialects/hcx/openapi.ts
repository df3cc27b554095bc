import type { ProblemCode } from '../../http/common.js';
import { hcxRenderer } from './envelope.js';
import { TRANSPORT_PROBLEMS, distinct, jsonResponse, notUserInputHeader, problemResponses, type DialectDocInfo, type Security } from '../../http/openapi.js';

/** The HCX dialect's schemas for its OpenAPI document (docs/hcx.md); the seed's examples verbatim (seed 000). */

const str = { type: 'string' } as const;
const strings = { type: 'array', items: str } as const;

/** `{success, completed, time, version}`: the head of every HCX body. */
const headProperties = {
  success: { type: 'boolean' },
  completed: { type: 'boolean' },
  time: { type: 'integer', description: 'Unix time in milliseconds.' },
  version: { type: 'string', const: '1.0' },
} as const;

export const hcxHeadSchema = {
  type: 'object',
  required: ['success', 'completed', 'time', 'version'],
  additionalProperties: false,
  properties: headProperties,
} as const;

export const hcxErrorSchema = {
  type: 'object',
  description: 'The seed\'s SessionErrorResponse: success and completed false, errorCode from the seed\'s closed enum.',
  required: ['success', 'completed', 'time', 'version', 'errorCode', 'error'],
  additionalProperties: false,
  properties: {
    ...headProperties,
    errorCode: { type: 'string', enum: ['BAD_REQUEST', 'INVALID_CREDENTIALS', 'NOT_ENOUGH_PRIVILEGES', 'INVALID_SESSION_TOKEN', 'INTERNAL_SERVER_ERROR'] },
    error: { type: 'string', description: 'Human-readable error message.' },
  },
} as const;

export const hcxUserSchema = {
  type: 'object',
  description: 'The seed\'s SessionCreateResponse.',
  required: ['success', 'completed', 'time', 'version', 'data'],
  additionalProperties: false,
  properties: {
    ...headProperties,
    data: {
      type: 'object',
      required: ['user', 'cloud', 'organizations'],
      additionalProperties: false,
      properties: {
        user: {
          type: 'object',
          required: ['enterprise', 'organization', 'currentOrganization', 'roles', 'username', 'transactionId'],
          additionalProperties: false,
          properties: {
            enterprise: str,
            organization: strings,
            currentOrganization: str,
            roles: strings,
            username: str,
            transactionId: { type: 'string', description: 'The request id of this answer (a UUID).' },
          },
        },
        cloud: { type: 'object', required: ['name', 'type'], additionalProperties: false, properties: { name: str, type: str } },
        organizations: {
          type: 'array',
          items: { type: 'object', required: ['name', 'id'], additionalProperties: false, properties: { name: str, id: str } },
        },
      },
    },
  },
} as const;

/** The seed's 200 example, verbatim (its username is an e-mail address the page obscured). */
export const SEED_LOGIN_EXAMPLE = {
  success: true,
  completed: true,
  time: 1753089693083,
  version: '1.0',
  data: {
    user: {
      enterprise: 'HybridityAdmin',
      organization: ['DEFAULT'],
      currentOrganization: 'DEFAULT',
      roles: ['System Administrator', 'Appliance Administrator'],
      username: '[email protected]',
      transactionId: '4636e751-ca87-42d4-a7fc-809b31fbbd82',
    },
    cloud: { name: 'HCX Manager', type: 'vsphere' },
    organizations: [{ name: 'DEFAULT', id: 'default-org-id' }],
  },
};

/** The seed's request examples, verbatim. */
export const SEED_LOGIN_REQUESTS = [
  { username: 'admin', password: 'SecureP@ssw0rd' },
  { authType: 'vsphere', username: 'admin', password: 'SecureP@ssw0rd' },
];

const tokenHeaders = {
  'x-hm-authorization': {
    description: 'The session token: send it as the x-hm-authorization request header of later calls.',
    required: true,
    schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{43}$' },
  },
};

/** The seed's time: the error examples are rendered at it, so the document is the same at every start. */
const SEED_TIME = 1753089693083;

/** The HCX routes' documentation, by route. */
export function hcxDocs(authTypes: string[]) {
  const renderer = hcxRenderer(() => SEED_TIME);
  const narrow = (bodies: object[]) => ({ properties: { errorCode: { enum: distinct(bodies.map((b) => (b as { errorCode: string }).errorCode)) } } });
  const errors = (codes: ProblemCode[]) => problemResponses(renderer, [...TRANSPORT_PROBLEMS, ...codes], hcxErrorSchema, { narrow });
  const loginCodes: ProblemCode[] = ['unsupported_auth_type', 'invalid_credentials', 'forbidden', 'too_many_sessions', 'identity_unavailable', 'busy'];
  const callerCodes: ProblemCode[] = ['invalid_session', 'invalid_credentials', 'forbidden', 'password_change_required', 'identity_unavailable', 'busy'];
  const caller = { security: [{ hcxToken: [] }, { basic: [] }] as Security, parameters: [notUserInputHeader] };
  const authTypeText = `Authentication type, one of ${authTypes.map((t) => `\`${t}\``).join(', ')} (hcx.authTypes); default \`local\`.`;
  const loginBody = (props: Record<string, unknown>) => ({ ...props, examples: SEED_LOGIN_REQUESTS, description: authTypeText });

  return {
    info: {
      title: 'Portcullis — VMware HCX Manager sessions',
      description:
        'The HCX Manager session API (seed 000): `POST /api/admin/v1/sessions` logs in and returns the token in the `x-hm-authorization` header; ' +
        'protected calls send it back (or HTTP Basic). The older `POST /hybridity/api/sessions` answers with an empty body. ' +
        'Errors use the seed\'s envelope. The token is valid in every dialect. Reference: docs/hcx.md.',
      securitySchemes: {
        hcxToken: { type: 'apiKey', in: 'header', name: 'x-hm-authorization', description: 'The token a login returned in x-hm-authorization.' },
        basic: { type: 'http', scheme: 'basic', description: 'HTTP Basic with a local account; checked at each call, no session is made.' },
      },
      errorSchema: hcxErrorSchema,
    } satisfies DialectDocInfo,
    loginBody,
    login: {
      summary: 'Log in (seed 000)',
      operationId: 'createSession',
      security: [],
      response: {
        200: jsonResponse('Logged in: the session\'s user. The token is in the x-hm-authorization header.', hcxUserSchema, SEED_LOGIN_EXAMPLE, {
          ...tokenHeaders,
          auth_token_name: { description: 'The name of the token header.', required: true, schema: { type: 'string', const: 'x-hm-authorization' } },
        }),
        ...errors(loginCodes),
      },
    },
    whoAmI: {
      summary: 'Who am I: the login body for the caller, no new token',
      operationId: 'getSession',
      ...caller,
      response: { 200: jsonResponse('The caller\'s user, with this answer\'s transactionId.', hcxUserSchema, SEED_LOGIN_EXAMPLE), ...errors(callerCodes) },
    },
    logout: {
      summary: 'Log out the session of x-hm-authorization',
      operationId: 'deleteSession',
      ...caller,
      response: {
        200: jsonResponse('Logged out.', hcxHeadSchema, { success: true, completed: true, time: SEED_TIME, version: '1.0' }),
        ...errors(callerCodes),
      },
    },
    hybridityLogin: {
      summary: 'Log in, the older way: empty body, token in x-hm-authorization',
      operationId: 'createHybriditySession',
      security: [],
      response: { 200: { description: 'Logged in; the body is empty.', headers: tokenHeaders }, ...errors(loginCodes) },
    },
  };
}
