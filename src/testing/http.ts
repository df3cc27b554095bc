import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { CoreError } from '../core/errors.js';
import type { SessionService } from '../core/sessions.js';
import { sameString } from '../core/tokens.js';
import { findSessionToken } from '../http/credentials.js';
import { basicCredentials, clientAddress, header, sendProblem, type DialectRenderer } from '../http/common.js';
import type { Config } from '../config.js';
import type { ClientTesting, ExpiryKind } from './controller.js';
import { operationOf, problemForStatus } from './faults.js';
import type { Recorder } from './recorder.js';

/** Where the controls live: inside the admin API's space, so errors are in its envelope. */
export const TESTING_PREFIX = '/portcullis/api/v1/testing';

const kFault = Symbol('portcullis.testing.fault');
const kTruncate = Symbol('portcullis.testing.truncate');
const kPayload = Symbol('portcullis.testing.payload');
type Marked = FastifyRequest & { [kFault]?: string; [kTruncate]?: boolean; [kPayload]?: unknown };

export interface ClientTestingHttp {
  testing: ClientTesting;
  sessions: SessionService;
  config: Config;
  recorder: Recorder | undefined;
  isAdministrator(roles: readonly string[]): boolean;
  rendererFor(req: FastifyRequest): DialectRenderer;
  /** The secret the local CLI uses (written to the data dir, 0600). */
  controlToken: string;
}

/** A fresh control token: 256 bits from the CSPRNG. */
export function newControlToken(): string {
  return randomBytes(32).toString('base64url');
}

function userField(body: unknown): string | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const b = body as Record<string, unknown>;
  for (const k of ['username', 'UserId', 'UserName', 'user']) if (typeof b[k] === 'string') return b[k] as string;
  return undefined;
}

/**
 * Installs client-testing mode on an app: the fault hooks (every route; the fast
 * path is off in this mode), the recorder and the control routes. Without the mode
 * none of this exists and the control paths are 404 in the admin envelope.
 */
export function registerClientTesting(app: FastifyInstance, t: ClientTestingHttp): void {
  const isControl = (url: string) => url === TESTING_PREFIX || url.startsWith(`${TESTING_PREFIX}/`) || url.startsWith(`${TESTING_PREFIX}?`);

  app.addHook('onRequest', async (req) => {
    if (!isControl(req.url)) await t.testing.noteRequest();
  });

  app.addHook('preHandler', async (req, reply) => {
    if (isControl(req.url) || t.testing.faults.size === 0) return;
    const route = req.routeOptions.url;
    const renderer = t.rendererFor(req);
    const rule = await t.testing.faults.match({
      dialect: renderer.name,
      op: operationOf(req.method, route, req.url),
      method: req.method,
      path: req.url.split('?', 1)[0]!,
      route,
      user: async () => {
        const named = userField(req.body) ?? basicCredentials(req)?.username;
        if (named !== undefined) return named;
        // The one credential list every dialect and the gateway use (src/http/credentials.ts).
        const found = findSessionToken(req.headers, { sessionCookie: t.config.lxca.sessionCookie });
        const s = await t.sessions.authenticate(found?.token, false).catch(() => null);
        return s?.username;
      },
    });
    if (!rule) return;
    (req as Marked)[kFault] = rule.id;
    const e = rule.effect;
    if (e.delayMs) await sleep(e.delayMs);
    if (e.drop) {
      reply.hijack();
      req.raw.socket.destroy();
      return reply;
    }
    if (e.truncate) {
      (req as Marked)[kTruncate] = true;
      return;
    }
    if (e.error !== undefined || e.status !== undefined) {
      const code = e.error ?? problemForStatus(e.status!);
      // No detail: the body is exactly the dialect's own for that failure.
      return sendProblem(reply, renderer, { code, ...(e.status !== undefined && { status: e.status }) });
    }
  });

  app.addHook('onSend', async (req, reply, payload) => {
    const r = req as Marked;
    if (t.recorder) r[kPayload] = payload;
    if (!r[kTruncate] || (typeof payload !== 'string' && !Buffer.isBuffer(payload))) return payload;
    // The real answer's head and half its body, then the connection closes mid-body.
    const bytes = Buffer.from(payload);
    reply.header('content-length', String(bytes.length));
    const half = bytes.subarray(0, Math.floor(bytes.length / 2));
    let sent = false;
    return new Readable({
      read() {
        if (sent) return;
        sent = true;
        this.push(half);
        setImmediate(() => this.destroy(new Error('client-testing: truncated')));
      },
    });
  });

  if (t.recorder) {
    const recorder = t.recorder;
    app.addHook('onResponse', async (req, reply) => {
      const r = req as Marked;
      const payload = r[kPayload];
      recorder.write({
        time: new Date().toISOString(),
        requestId: req.id,
        dialect: t.rendererFor(req).name,
        method: req.method,
        url: req.url,
        requestHeaders: req.headers,
        requestBody: req.body,
        status: reply.statusCode,
        responseHeaders: reply.getHeaders(),
        responseBody: typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : undefined,
        isLogin: operationOf(req.method, req.routeOptions.url, req.url) === 'login',
        ...(r[kFault] !== undefined && { fault: r[kFault] }),
      });
    });
  }

  registerControls(app, t);
}

/** The admin API's controls: an administrator's session or the local control token. */
function registerControls(app: FastifyInstance, t: ClientTestingHttp): void {
  const route = { config: { dialect: 'admin' } };
  const P = TESTING_PREFIX;

  async function who(req: FastifyRequest): Promise<string> {
    const auth = header(req, 'authorization');
    const token = auth && /^bearer +/i.test(auth) ? auth.replace(/^bearer +/i, '').trim() : undefined;
    if (!token) throw new CoreError('invalid_session', 'Send Authorization: Bearer <an administrator\'s session token, or the control token in the data directory>.');
    if (sameString(token, t.controlToken)) return 'control-token';
    const s = await t.sessions.authenticate(token, true);
    if (!s) throw new CoreError('invalid_session');
    if (!t.isAdministrator(s.roles)) throw new CoreError('forbidden');
    return s.username;
  }
  const ctx = (req: FastifyRequest) => ({ requestId: req.id, clientAddress: clientAddress(req), dialect: 'admin' });
  const nameParams = { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1, maxLength: 256 } } } as const;
  const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 128 } } } as const;
  const kindBody = { type: ['object', 'null'], additionalProperties: false, properties: { kind: { type: 'string', enum: ['idle', 'absolute'] } } } as const;
  const kindOf = (body: unknown): ExpiryKind => ((body as { kind?: ExpiryKind } | undefined)?.kind ?? 'idle');
  const view = (r: { id: string; match: unknown; effect: unknown; count?: number | undefined; afterSeconds?: number | undefined; forSeconds?: number | undefined; fired: number; addedAt: number }) => ({
    id: r.id, match: r.match, effect: r.effect, count: r.count ?? null, afterSeconds: r.afterSeconds ?? 0, forSeconds: r.forSeconds ?? null, fired: r.fired, addedAt: new Date(r.addedAt).toISOString(),
  });

  app.get(P, route, async (req) => {
    await who(req);
    return {
      enabled: true,
      requests: t.testing.requestCount,
      clockOffsetMs: t.testing.clockOffsetMs,
      now: new Date(Date.now() + t.testing.clockOffsetMs).toISOString(),
      faults: t.testing.faults.size,
      scenarioStepsDone: t.testing.stepsDone,
      recording: t.recorder !== undefined,
    };
  });
  app.get(`${P}/faults`, route, async (req) => {
    await who(req);
    return { faults: t.testing.faults.list().map(view) };
  });
  app.post(`${P}/faults`, { ...route, schema: { body: { type: 'object' } } }, async (req, reply) => {
    const by = await who(req);
    const rule = await t.testing.addFault(req.body as never, ctx(req), by);
    return reply.code(201).send({ fault: view(rule) });
  });
  app.delete(`${P}/faults`, route, async (req) => {
    const by = await who(req);
    return { cleared: await t.testing.clearFaults(ctx(req), by) };
  });
  app.delete<{ Params: { id: string } }>(`${P}/faults/:id`, { ...route, schema: { params: idParams } }, async (req) => {
    const by = await who(req);
    if (!(await t.testing.removeFault(req.params.id, ctx(req), by))) throw new CoreError('not_found', `no fault rule ${req.params.id}`);
    return { removed: req.params.id };
  });
  app.get(`${P}/clock`, route, async (req) => {
    await who(req);
    return { offsetMs: t.testing.clockOffsetMs, now: new Date(Date.now() + t.testing.clockOffsetMs).toISOString() };
  });
  app.put<{ Body: { offsetMs?: number; offsetMinutes?: number } }>(
    `${P}/clock`,
    {
      ...route,
      schema: {
        body: { type: 'object', additionalProperties: false, minProperties: 1, maxProperties: 1, properties: { offsetMs: { type: 'integer' }, offsetMinutes: { type: 'number' } } },
      },
    },
    async (req) => {
      const by = await who(req);
      const ms = req.body.offsetMs ?? Math.round(req.body.offsetMinutes! * 60_000);
      await t.testing.setClockOffset(ms, ctx(req), by);
      return { offsetMs: ms, now: new Date(Date.now() + ms).toISOString() };
    },
  );
  app.post<{ Params: { id: string } }>(`${P}/sessions/:id/expire`, { ...route, schema: { params: idParams, body: kindBody } }, async (req) => {
    const by = await who(req);
    if (!(await t.testing.expireSession(req.params.id, kindOf(req.body), ctx(req), by))) throw new CoreError('not_found', `no live session ${req.params.id}`);
    return { expired: req.params.id, kind: kindOf(req.body) };
  });
  app.post<{ Params: { name: string } }>(`${P}/users/:name/expire-sessions`, { ...route, schema: { params: nameParams, body: kindBody } }, async (req) => {
    const by = await who(req);
    return { expired: await t.testing.expireSessions(req.params.name, kindOf(req.body), ctx(req), by), kind: kindOf(req.body) };
  });
  app.post<{ Params: { name: string } }>(`${P}/users/:name/revoke-sessions`, { ...route, schema: { params: nameParams } }, async (req) => {
    const by = await who(req);
    return { revoked: await t.testing.revokeUser(req.params.name, ctx(req), by) };
  });
  app.put<{ Params: { name: string }; Body: { value?: boolean } | undefined }>(
    `${P}/users/:name/must-change-password`,
    { ...route, schema: { params: nameParams, body: { type: ['object', 'null'], additionalProperties: false, properties: { value: { type: 'boolean' } } } } },
    async (req) => {
      const by = await who(req);
      const value = req.body?.value ?? true;
      return { mustChangePassword: value, sessionsMarked: await t.testing.mustChange(req.params.name, value, ctx(req), by) };
    },
  );
  app.post<{ Params: { name: string } }>(`${P}/users/:name/lock`, { ...route, schema: { params: nameParams } }, async (req) => {
    const by = await who(req);
    const until = await t.testing.lock(req.params.name, ctx(req), by);
    return { locked: true, lockedUntil: until >= Number.MAX_SAFE_INTEGER ? null : new Date(until).toISOString() };
  });
  app.post<{ Params: { name: string } }>(`${P}/users/:name/unlock`, { ...route, schema: { params: nameParams } }, async (req) => {
    const by = await who(req);
    return { wasLocked: await t.testing.unlock(req.params.name, ctx(req), by) };
  });
}

