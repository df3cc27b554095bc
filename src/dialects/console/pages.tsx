import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ProblemCode } from '../../http/common.js';
import { requestContext } from '../../http/common.js';
import type { SessionRecord } from '../../ports/store.js';
import { Notice, Time, page } from './layout.js';
import { PASSWORD_PATH } from './login.js';
import { viewerOf } from './password.js';
import { TOTP_PATH, registerTotp } from './totp.js';
import { paginate } from './admin.js';
import { csrfMatches, formField, redirect, sendHtml, type ConsoleContext } from './shared.js';

export interface PageHelpers {
  /** The signed-in session, or a redirect already sent (sign in, forced password change, required enrolment unless `enrolment`). */
  gate(req: FastifyRequest, reply: FastifyReply, opts?: { enrolment?: boolean; admin?: boolean }): Promise<SessionRecord | undefined>;
  errorPage(status: number, code: ProblemCode, detail: string | undefined, req: FastifyRequest): Promise<string>;
}

/** "idle for" as a person reads it: 42 s, 5 min, 3 h 10 min. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

const DIALECT_NAMES: Record<string, string> = { hcx: 'HCX', lxca: 'XClarity', console: 'Console', redfish: 'Redfish', vcenter: 'vCenter', admin: 'Admin API' };
export const dialectName = (d: string) => DIALECT_NAMES[d] ?? d;

export function registerPages(app: FastifyInstance, c: ConsoleContext, h: PageHelpers): void {
  const { deps } = c;
  const route = { config: { dialect: 'console' } };

  async function accountPage(s: SessionRecord, notice?: { kind: 'ok' | 'error'; text: string }, query: Record<string, string | undefined> = {}) {
    const now = deps.clock.now();
    const mine = await deps.sessions.listSessions({ username: s.username });
    const { rows, pager } = paginate(mine, query, '/console/account');
    const totpOn = (await deps.secondFactors.status(s.username)).enrolled;
    return page(
      { title: 'My account', assets: c.assets, viewer: viewerOf(c, s), current: '/console/account', script: true },
      <>
        <h1>My account</h1>
        {notice && <Notice kind={notice.kind}>{notice.text}</Notice>}
        <section class="panel" aria-labelledby="me-h">
          <h2 id="me-h">{s.username}</h2>
          <dl class="kv">
            <dt>Roles</dt>
            <dd>{s.roles.join(', ') || '—'}</dd>
            <dt>Organizations</dt>
            <dd>{s.organizations.join(', ') || '—'}</dd>
            <dt>Signed in through</dt>
            <dd>
              {s.authSource} ({s.authServer})
            </dd>
          </dl>
          <p class="actions">
            <a class="button secondary" href={PASSWORD_PATH}>
              Change password
            </a>
            <a class="button secondary" href={TOTP_PATH}>
              Authenticator app: {totpOn ? 'on' : 'off'}
            </a>
          </p>
        </section>
        <section aria-labelledby="sessions-h">
          <h2 id="sessions-h">My sessions ({mine.length})</h2>
          <div class="table-wrap">
            <table>
              <caption class="skip">Your live sessions in every interface</caption>
              <thead>
                <tr>
                  <th scope="col">Interface</th>
                  <th scope="col">From</th>
                  <th scope="col">Created</th>
                  <th scope="col">Last used</th>
                  <th scope="col">Idle for</th>
                  <th scope="col">
                    <span class="skip">Action</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {rows.map((x) => (
                  <tr>
                    <td>
                      {dialectName(x.dialect)} {x.id === s.id && <span class="badge good">this one</span>}
                    </td>
                    <td class="mono">{x.clientAddress}</td>
                    <td>
                      <Time ms={x.createdAt} />
                    </td>
                    <td>
                      <Time ms={x.lastAccessedAt} />
                    </td>
                    <td>{duration(now - x.lastAccessedAt)}</td>
                    <td>
                      <form method="post" action="/console/account/sessions/end" class="inline">
                        <input type="hidden" name="csrf" value={s.csrf} />
                        <input type="hidden" name="id" value={x.id} />
                        <button type="submit" class="secondary" aria-label={`End this one: the ${dialectName(x.dialect)} session from ${x.clientAddress}`}>
                          End this one
                        </button>
                      </form>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {pager}
          {mine.length > 1 && (
            <form method="post" action="/console/account/sessions/end-others" class="actions" data-confirm="End all your other sessions?">
              <input type="hidden" name="csrf" value={s.csrf} />
              <button type="submit" class="danger">
                End all others
              </button>
            </form>
          )}
        </section>
      </>,
    );
  }

  registerTotp(app, c, h);

  app.get('/account', route, async (req, reply) => {
    const s = await h.gate(req, reply);
    if (!s) return reply;
    const q = Object.fromEntries(Object.entries((req.query ?? {}) as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string'));
    return sendHtml(c, reply, 200, await accountPage(s, undefined, q));
  });

  app.post('/account/sessions/end', route, async (req, reply) => {
    const s = await h.gate(req, reply);
    if (!s) return reply;
    if (!csrfMatches(formField(req.body, 'csrf'), s.csrf)) return sendHtml(c, reply, 403, await h.errorPage(403, 'csrf_mismatch', undefined, req));
    const id = formField(req.body, 'id') ?? '';
    const target = id ? await deps.sessions.getSession(id) : null;
    // Another user's session id answers exactly like an unknown one.
    if (!target || target.username !== s.username) return sendHtml(c, reply, 404, await accountPage(s, { kind: 'error', text: 'That session does not exist (it may have ended already).' }));
    await deps.sessions.revokeSession(target.id, requestContext(req, 'console'), s.username);
    if (target.id === s.id) return redirect(reply, '/portcullis/login');
    return redirect(reply, '/console/account');
  });

  app.post('/account/sessions/end-others', route, async (req, reply) => {
    const s = await h.gate(req, reply);
    if (!s) return reply;
    if (!csrfMatches(formField(req.body, 'csrf'), s.csrf)) return sendHtml(c, reply, 403, await h.errorPage(403, 'csrf_mismatch', undefined, req));
    let n = 0;
    for (const x of await deps.sessions.listSessions({ username: s.username })) {
      if (x.id !== s.id && (await deps.sessions.revokeSession(x.id, requestContext(req, 'console'), s.username))) n++;
    }
    return sendHtml(c, reply, 200, await accountPage(s, { kind: 'ok', text: `${n} other session${n === 1 ? '' : 's'} ended.` }));
  });

}
