import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ComponentChildren } from 'preact';
import { AUDIT_KINDS } from '../../core/audit.js';
import { CoreError } from '../../core/errors.js';
import { MAX_PASSWORD_LENGTH } from '../../core/input.js';
import { SETTING_NAMES, SETTING_RULES } from '../../core/settings.js';
import { requestContext, sendProblem } from '../../http/common.js';
import { consoleRenderer } from './envelope.js';
import type { AuditRecord, SessionRecord } from '../../ports/store.js';
import { Notice, Time, page } from './layout.js';
import type { PageHelpers } from './pages.js';
import { dialectName, duration } from './pages.js';
import { viewerOf } from './password.js';
import { csrfMatches, formField, redirect, sendHtml, type ConsoleContext } from './shared.js';
import { buildMetrics, type SessionSampler } from './metrics.js';

export const PAGE_SIZE = 25;

type Query = Record<string, string | undefined>;

function queryOf(req: FastifyRequest): Query {
  const out: Query = {};
  for (const [k, v] of Object.entries((req.query ?? {}) as Record<string, unknown>)) if (typeof v === 'string') out[k] = v;
  return out;
}

/** One page of a list, and the links around it (filters kept). */
export function paginate<T>(items: T[], q: Query, path: string): { rows: T[]; pager: ComponentChildren } {
  const pages = Math.max(1, Math.ceil(items.length / PAGE_SIZE));
  const pageNo = Math.min(pages, Math.max(1, Number.parseInt(q.page ?? '1', 10) || 1));
  const rows = items.slice((pageNo - 1) * PAGE_SIZE, pageNo * PAGE_SIZE);
  const link = (p: number) => {
    const params = new URLSearchParams(Object.entries({ ...q, page: String(p) }).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ''));
    return `${path}?${params.toString()}`;
  };
  const pager = (
    <nav class="pager" aria-label="Pages">
      {pageNo > 1 ? <a href={link(pageNo - 1)}>← Previous</a> : <span aria-hidden="true">← Previous</span>}
      <span>
        Page {pageNo} of {pages} ({items.length} in all)
      </span>
      {pageNo < pages ? <a href={link(pageNo + 1)}>Next →</a> : <span aria-hidden="true">Next →</span>}
    </nav>
  );
  return { rows, pager };
}

function Csrf(props: { s: SessionRecord }) {
  return <input type="hidden" name="csrf" value={props.s.csrf} />;
}

const list = (v: string | undefined) =>
  (v ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

/** The administrators' pages: dashboard, accounts, sessions, lockouts, audit, policy, identity sources. */
export function registerAdmin(app: FastifyInstance, c: ConsoleContext, h: PageHelpers, sampler: SessionSampler): void {
  const { deps } = c;
  const route = { config: { dialect: 'console' } };
  const admin = { admin: true };

  async function gateWithCsrf(req: FastifyRequest, reply: FastifyReply): Promise<SessionRecord | undefined> {
    const s = await h.gate(req, reply, admin);
    if (!s) return undefined;
    if (!csrfMatches(formField(req.body, 'csrf'), s.csrf)) {
      sendHtml(c, reply, 403, await h.errorPage(403, 'csrf_mismatch', undefined, req));
      return undefined;
    }
    return s;
  }

  const view = (s: SessionRecord, title: string, current: string, body: ComponentChildren) =>
    page({ title, assets: c.assets, viewer: viewerOf(c, s), current, script: true }, body);

  // ---- dashboard ----

  app.get('/', route, async (req, reply) => {
    const s = await h.gate(req, reply);
    if (!s) return reply;
    if (!deps.isAdministrator(s.roles)) return redirect(reply, '/console/account');
    const [sessionCount, accounts, m] = await Promise.all([deps.sessions.countSessions(), deps.accounts.list(), buildMetrics(deps, sampler, 3)]);
    const locked = (await Promise.all(accounts.map((a) => deps.accounts.lockState(a.username)))).filter((x) => x.locked).length;
    const card = (label: string, value: number, href: string) => (
      <a class="card" href={href}>
        <div class="value">{value}</div>
        <div class="label">{label}</div>
      </a>
    );
    return sendHtml(
      c,
      reply,
      200,
      view(
        s,
        'Dashboard',
        '/console/',
        <>
          <h1>Dashboard</h1>
          <div class="cards">
            {card('live sessions', sessionCount, '/console/sessions')}
            {card('accounts', accounts.length, '/console/accounts')}
            {card('locked accounts', locked, '/console/lockouts')}
            {card('failed logins (3 h)', m.totals.failure + m.totals.throttled, '/console/audit?kind=login.failure')}
          </div>
          <div class="charts">
            <section class="chart" aria-labelledby="c1">
              <h2 id="c1">Logins per minute (last 3 hours)</h2>
              <div class="plot" data-chart="logins" role="img" aria-label={`Logins per minute: ${m.totals.success} succeeded, ${m.totals.failure} failed, ${m.totals.throttled} throttled or locked, ${m.totals.refused} refused by policy in the last 3 hours`} />
              <p class="hint">
                {m.totals.success} succeeded · {m.totals.failure} failed · {m.totals.throttled} throttled/locked · {m.totals.refused} refused by policy
              </p>
            </section>
            <section class="chart" aria-labelledby="c2">
              <h2 id="c2">Live sessions</h2>
              <div class="plot" data-chart="sessions" role="img" aria-label={`Live sessions over the last 3 hours; now ${sessionCount}`} />
              <p class="hint">Sampled each minute by this node; now {sessionCount}.</p>
            </section>
            <section class="chart" aria-labelledby="c3">
              <h2 id="c3">Lockouts per minute</h2>
              <div class="plot" data-chart="lockouts" role="img" aria-label={`Account lockouts in the last 3 hours: ${m.totals.lockouts}`} />
              <p class="hint">{m.totals.lockouts} accounts locked in the last 3 hours.</p>
            </section>
          </div>
        </>,
      ),
    );
  });

  // ---- accounts ----

  app.get('/accounts', route, async (req, reply) => {
    const s = await h.gate(req, reply, admin);
    if (!s) return reply;
    const q = queryOf(req);
    const all = await deps.accounts.list();
    const filtered = q.q ? all.filter((a) => a.username.toLowerCase().includes(q.q!.toLowerCase())) : all;
    const { rows, pager } = paginate(filtered, q, '/console/accounts');
    const states = await Promise.all(rows.map((a) => deps.accounts.lockState(a.username)));
    const totp = new Set(await deps.secondFactors.enrolledUsers());
    return sendHtml(
      c,
      reply,
      200,
      view(
        s,
        'Accounts',
        '/console/accounts',
        <>
          <h1>Accounts</h1>
          {q.done && <Notice kind="ok">{q.done}</Notice>}
          <form method="get" action="/console/accounts" class="filters" role="search">
            <label>
              User name contains
              <input type="search" name="q" value={q.q ?? ''} />
            </label>
            <button type="submit" class="secondary">
              Filter
            </button>
          </form>
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">User</th>
                  <th scope="col">Roles</th>
                  <th scope="col">Organizations</th>
                  <th scope="col">State</th>
                  <th scope="col">TOTP</th>
                  <th scope="col">Updated</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((a, i) => (
                  <tr>
                    <td>
                      <a href={`/console/accounts/${encodeURIComponent(a.username)}`}>{a.username}</a>
                    </td>
                    <td>{a.roles.join(', ')}</td>
                    <td>{a.organizations.join(', ')}</td>
                    <td>
                      {a.disabled ? <span class="badge bad">disabled</span> : <span class="badge good">enabled</span>}{' '}
                      {states[i]!.locked && <span class="badge bad">locked</span>} {a.mustChangePassword && <span class="badge">must change password</span>}
                    </td>
                    <td>{totp.has(a.username) ? 'on' : 'off'}</td>
                    <td>
                      <Time ms={a.updatedAt} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {pager}
          <section class="panel" aria-labelledby="new-h">
            <h2 id="new-h">New account</h2>
            <form method="post" action="/console/accounts" class="stack">
              <Csrf s={s} />
              <label for="n-user">User name</label>
              <input id="n-user" type="text" name="username" required maxLength={256} autocomplete="off" />
              <label for="n-pass">Initial password</label>
              <input id="n-pass" type="password" name="password" required maxLength={MAX_PASSWORD_LENGTH} autocomplete="new-password" />
              <label for="n-roles">Roles (comma-separated)</label>
              <input id="n-roles" type="text" name="roles" required />
              <label for="n-orgs">Organizations (comma-separated; empty = the default)</label>
              <input id="n-orgs" type="text" name="organizations" />
              <p class="hint">The user must change this password at first sign-in.</p>
              <button type="submit">Create account</button>
            </form>
          </section>
        </>,
      ),
    );
  });

  app.post('/accounts', route, async (req, reply) => {
    const s = await gateWithCsrf(req, reply);
    if (!s) return reply;
    const b = req.body;
    const username = (formField(b, 'username') ?? '').trim();
    const orgs = list(formField(b, 'organizations'));
    try {
      await deps.accounts.create({ username, password: formField(b, 'password') ?? '', roles: list(formField(b, 'roles')), ...(orgs.length > 0 && { organizations: orgs }), mustChangePassword: true });
    } catch (e) {
      if (e instanceof CoreError && e.code === 'invalid_input') return sendHtml(c, reply, 400, await h.errorPage(400, 'invalid_input', e.message, req));
      if (e instanceof Error && e.name === 'DuplicateAccountError') return sendHtml(c, reply, 409, await h.errorPage(409, 'conflict', `An account named "${username}" exists.`, req));
      throw e;
    }
    return redirect(reply, `/console/accounts/${encodeURIComponent(username)}`);
  });

  app.get('/accounts/:username', route, async (req, reply) => {
    const s = await h.gate(req, reply, admin);
    if (!s) return reply;
    const name = (req.params as { username: string }).username;
    const a = await deps.accounts.get(name);
    const [lock, totp, sessions] = await Promise.all([deps.accounts.lockState(a.username), deps.secondFactors.status(a.username), deps.sessions.listSessions({ username: a.username })]);
    const q = queryOf(req);
    const action = (path: string, label: string, opts: { danger?: boolean; confirm?: string } = {}) => (
      <form method="post" action={`/console/accounts/${encodeURIComponent(a.username)}/${path}`} class="inline" {...(opts.confirm && { 'data-confirm': opts.confirm })}>
        <Csrf s={s} />
        <button type="submit" class={opts.danger ? 'danger' : 'secondary'}>
          {label}
        </button>
      </form>
    );
    return sendHtml(
      c,
      reply,
      200,
      view(
        s,
        `Account ${a.username}`,
        '/console/accounts',
        <>
          <h1>Account {a.username}</h1>
          {q.done && <Notice kind="ok">{q.done}</Notice>}
          <section class="panel">
            <dl class="kv">
              <dt>State</dt>
              <dd>
                {a.disabled ? 'disabled' : 'enabled'}
                {lock.locked ? ` · locked${lock.lockedUntil < Number.MAX_SAFE_INTEGER ? ' until ' : ' until an administrator unlocks it'}` : ''}
                {lock.locked && lock.lockedUntil < Number.MAX_SAFE_INTEGER && <Time ms={lock.lockedUntil} />}
                {` · ${lock.count} recent failed logins`}
              </dd>
              <dt>Must change password</dt>
              <dd>{a.mustChangePassword ? 'yes' : 'no'}</dd>
              <dt>Authenticator app</dt>
              <dd>{totp.enrolled ? `on (${totp.recoveryLeft} recovery codes left)` : totp.pending ? 'enrolment started' : 'off'}</dd>
              <dt>Live sessions</dt>
              <dd>
                <a href={`/console/sessions?user=${encodeURIComponent(a.username)}`}>{sessions.length}</a>
              </dd>
              <dt>Created</dt>
              <dd>
                <Time ms={a.createdAt} />
              </dd>
            </dl>
            <p class="actions">
              {a.disabled ? action('enable', 'Enable') : action('disable', 'Disable', { danger: true, confirm: `Disable ${a.username} and end their sessions?` })}
              {lock.locked && action('unlock', 'Unlock')}
              {(totp.enrolled || totp.pending) && action('reset-totp', 'Reset authenticator app', { danger: true, confirm: `Remove ${a.username}'s authenticator app?` })}
            </p>
          </section>
          <section class="panel" aria-labelledby="roles-h">
            <h2 id="roles-h">Roles and organizations</h2>
            <form method="post" action={`/console/accounts/${encodeURIComponent(a.username)}/roles`} class="stack">
              <Csrf s={s} />
              <label for="r-roles">Roles (comma-separated)</label>
              <input id="r-roles" type="text" name="roles" value={a.roles.join(', ')} />
              <label for="r-orgs">Organizations (comma-separated)</label>
              <input id="r-orgs" type="text" name="organizations" value={a.organizations.join(', ')} />
              <button type="submit">Save</button>
            </form>
          </section>
          <section class="panel" aria-labelledby="pw-h">
            <h2 id="pw-h">Reset password</h2>
            <form method="post" action={`/console/accounts/${encodeURIComponent(a.username)}/password`} class="stack">
              <Csrf s={s} />
              <label for="p-new">New password</label>
              <input id="p-new" type="password" name="password" required maxLength={MAX_PASSWORD_LENGTH} autocomplete="new-password" />
              <label>
                <input type="checkbox" name="mustChange" value="yes" checked /> Must change it at next sign-in
              </label>
              <p class="hint">Ends the user's sessions.</p>
              <button type="submit">Reset password</button>
            </form>
          </section>
        </>,
      ),
    );
  });

  const accountAction = (path: string, run: (username: string, s: SessionRecord, req: FastifyRequest) => Promise<string>) =>
    app.post(`/accounts/:username/${path}`, route, async (req, reply) => {
      const s = await gateWithCsrf(req, reply);
      if (!s) return reply;
      const a = await deps.accounts.get((req.params as { username: string }).username);
      let done: string;
      try {
        done = await run(a.username, s, req);
      } catch (e) {
        if (e instanceof CoreError && e.code === 'invalid_input') return sendHtml(c, reply, 400, await h.errorPage(400, 'invalid_input', e.message, req));
        throw e;
      }
      // The lockouts page's Unlock returns there; everything else to the account.
      const back = formField(req.body, 'back') === 'lockouts' ? '/console/lockouts' : `/console/accounts/${encodeURIComponent(a.username)}`;
      return redirect(reply, `${back}?done=${encodeURIComponent(done)}`);
    });
  const ctx = (req: FastifyRequest) => requestContext(req, 'console');
  accountAction('disable', async (u, s, req) => (await deps.accounts.setDisabled(u, true, ctx(req), s.username), 'Disabled; their sessions ended.'));
  accountAction('enable', async (u, s, req) => (await deps.accounts.setDisabled(u, false, ctx(req), s.username), 'Enabled.'));
  accountAction('unlock', async (u, s, req) => ((await deps.accounts.unlock(u, ctx(req), s.username)) ? 'Unlocked.' : 'It was not locked.'));
  accountAction('reset-totp', async (u, s, req) => ((await deps.secondFactors.reset(u, ctx(req), s.username)) ? 'Authenticator app removed.' : 'There was none.'));
  accountAction('roles', async (u, _s, req) => {
    const roles = list(formField(req.body, 'roles'));
    const orgs = list(formField(req.body, 'organizations'));
    await deps.accounts.update(u, { roles, ...(orgs.length > 0 && { organizations: orgs }) });
    return 'Roles and organizations saved (they apply from the next sign-in).';
  });
  accountAction('password', async (u, s, req) => {
    await deps.accounts.setPassword(u, formField(req.body, 'password') ?? '', { mustChange: formField(req.body, 'mustChange') === 'yes' }, ctx(req), s.username);
    return 'Password reset; their sessions ended.';
  });

  // ---- sessions ----

  app.get('/sessions', route, async (req, reply) => {
    const s = await h.gate(req, reply, admin);
    if (!s) return reply;
    const q = queryOf(req);
    const now = deps.clock.now();
    let all = await deps.sessions.listSessions(q.user ? { username: q.user } : undefined);
    if (q.dialect) all = all.filter((x) => x.dialect === q.dialect);
    if (q.source) all = all.filter((x) => x.clientAddress.startsWith(q.source!));
    const { rows, pager } = paginate(all, q, '/console/sessions');
    const dialects = ['hcx', 'lxca', 'console', 'redfish', 'vcenter', 'admin'];
    return sendHtml(
      c,
      reply,
      200,
      view(
        s,
        'Sessions',
        '/console/sessions',
        <>
          <h1>Live sessions</h1>
          {q.done && <Notice kind="ok">{q.done}</Notice>}
          <form method="get" action="/console/sessions" class="filters" role="search">
            <label>
              User
              <input type="search" name="user" value={q.user ?? ''} />
            </label>
            <label>
              Interface
              <select name="dialect">
                <option value="">any</option>
                {dialects.map((d) => (
                  <option value={d} selected={q.dialect === d}>
                    {dialectName(d)}
                  </option>
                ))}
              </select>
            </label>
            <label>
              Source address starts with
              <input type="search" name="source" value={q.source ?? ''} />
            </label>
            <button type="submit" class="secondary">
              Filter
            </button>
          </form>
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">User</th>
                  <th scope="col">Interface</th>
                  <th scope="col">From</th>
                  <th scope="col">Created</th>
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
                      <a href={`/console/sessions?user=${encodeURIComponent(x.username)}`}>{x.username}</a>
                    </td>
                    <td>{dialectName(x.dialect)}</td>
                    <td class="mono">{x.clientAddress}</td>
                    <td>
                      <Time ms={x.createdAt} />
                    </td>
                    <td>{duration(now - x.lastAccessedAt)}</td>
                    <td>
                      <form method="post" action="/console/sessions/revoke" class="inline">
                        <Csrf s={s} />
                        <input type="hidden" name="id" value={x.id} />
                        <button type="submit" class="secondary" aria-label={`Revoke ${x.username}'s ${dialectName(x.dialect)} session from ${x.clientAddress}`}>
                          Revoke
                        </button>
                      </form>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {pager}
          {q.user && all.length > 0 && (
            <form method="post" action="/console/sessions/revoke-user" data-confirm={`End every session of ${q.user}?`}>
              <Csrf s={s} />
              <input type="hidden" name="user" value={q.user} />
              <button type="submit" class="danger">
                Revoke all of {q.user}'s sessions
              </button>
            </form>
          )}
        </>,
      ),
    );
  });

  app.post('/sessions/revoke', route, async (req, reply) => {
    const s = await gateWithCsrf(req, reply);
    if (!s) return reply;
    const ok = await deps.sessions.revokeSession(formField(req.body, 'id') ?? '', ctx(req), s.username);
    return redirect(reply, `/console/sessions?done=${encodeURIComponent(ok ? 'Session revoked.' : 'That session had ended already.')}`);
  });

  app.post('/sessions/revoke-user', route, async (req, reply) => {
    const s = await gateWithCsrf(req, reply);
    if (!s) return reply;
    const user = formField(req.body, 'user') ?? '';
    const n = await deps.sessions.revokeUserSessions(user, ctx(req), s.username);
    return redirect(reply, `/console/sessions?done=${encodeURIComponent(`${n} session${n === 1 ? '' : 's'} of ${user} revoked.`)}`);
  });

  // ---- lockouts and throttled sources ----

  app.get('/lockouts', route, async (req, reply) => {
    const s = await h.gate(req, reply, admin);
    if (!s) return reply;
    const q = queryOf(req);
    const accounts = await deps.accounts.list();
    const states = await Promise.all(accounts.map(async (a) => ({ a, st: await deps.accounts.lockState(a.username) })));
    const locked = states.filter((x) => x.st.locked);
    const sources = deps.throttle ? await deps.throttle.list() : [];
    const { rows, pager } = paginate(locked, q, '/console/lockouts');
    return sendHtml(
      c,
      reply,
      200,
      view(
        s,
        'Lockouts',
        '/console/lockouts',
        <>
          <h1>Locked accounts and throttled sources</h1>
          {q.done && <Notice kind="ok">{q.done}</Notice>}
          <h2>Locked accounts ({locked.length})</h2>
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">User</th>
                  <th scope="col" class="num">Failures</th>
                  <th scope="col">Locked until</th>
                  <th scope="col">
                    <span class="skip">Action</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {rows.map(({ a, st }) => (
                  <tr>
                    <td>
                      <a href={`/console/accounts/${encodeURIComponent(a.username)}`}>{a.username}</a>
                    </td>
                    <td class="num">{st.count}</td>
                    <td>{st.lockedUntil >= Number.MAX_SAFE_INTEGER ? 'until unlocked' : <Time ms={st.lockedUntil} />}</td>
                    <td>
                      <form method="post" action={`/console/accounts/${encodeURIComponent(a.username)}/unlock`} class="inline">
                        <Csrf s={s} />
                        <input type="hidden" name="back" value="lockouts" />
                        <button type="submit" class="secondary" aria-label={`Unlock ${a.username}`}>
                          Unlock
                        </button>
                      </form>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {pager}
          <h2>Throttled source addresses ({sources.length})</h2>
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Source</th>
                  <th scope="col" class="num">Failures</th>
                  <th scope="col">Throttled until</th>
                  <th scope="col">
                    <span class="skip">Action</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {sources.slice(0, 200).map((x) => (
                  <tr>
                    <td class="mono">{x.source}</td>
                    <td class="num">{x.failures}</td>
                    <td>
                      <Time ms={x.lockedUntil} />
                    </td>
                    <td>
                      <form method="post" action="/console/lockouts/release" class="inline">
                        <Csrf s={s} />
                        <input type="hidden" name="source" value={x.source.replace('::/64', '::')} />
                        <button type="submit" class="secondary" aria-label={`Release ${x.source}`}>
                          Release
                        </button>
                      </form>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>,
      ),
    );
  });

  app.post('/lockouts/release', route, async (req, reply) => {
    const s = await gateWithCsrf(req, reply);
    if (!s) return reply;
    const source = formField(req.body, 'source') ?? '';
    if (!deps.throttle || !/^[0-9a-fA-F:.]{2,64}$/.test(source)) return sendHtml(c, reply, 400, await h.errorPage(400, 'invalid_input', 'Give an IP address.', req));
    const was = await deps.throttle.release(source, ctx(req), s.username);
    return redirect(reply, `/console/lockouts?done=${encodeURIComponent(was ? `${source} released.` : `${source} was not throttled.`)}`);
  });

  // ---- audit ----

  async function auditEvents(q: Query): Promise<AuditRecord[]> {
    const since = q.since ? Date.parse(`${q.since}Z`) : NaN;
    const until = q.until ? Date.parse(`${q.until}Z`) : NaN;
    const events = await deps.audit.query({
      ...(q.user && { username: q.user }),
      ...(q.kind && { kind: q.kind }),
      ...(Number.isFinite(since) && { since }),
      limit: 10_000,
    });
    return (Number.isFinite(until) ? events.filter((e) => e.at < until) : events).reverse();
  }

  app.get('/audit', route, async (req, reply) => {
    const s = await h.gate(req, reply, admin);
    if (!s) return reply;
    const q = queryOf(req);
    const events = await auditEvents(q);
    const { rows, pager } = paginate(events, q, '/console/audit');
    const exportQuery = new URLSearchParams(Object.entries(q).filter((e): e is [string, string] => e[0] !== 'page' && e[1] !== undefined && e[1] !== '')).toString();
    const kinds = [...AUDIT_KINDS, 'login.'];
    return sendHtml(
      c,
      reply,
      200,
      view(
        s,
        'Audit trail',
        '/console/audit',
        <>
          <h1>Audit trail</h1>
          <form method="get" action="/console/audit" class="filters" role="search">
            <label>
              User
              <input type="search" name="user" value={q.user ?? ''} />
            </label>
            <label>
              Kind
              <select name="kind">
                <option value="">any</option>
                {kinds.map((k) => (
                  <option value={k} selected={q.kind === k}>
                    {k === 'login.' ? 'every login event' : k}
                  </option>
                ))}
              </select>
            </label>
            <label>
              From (UTC)
              <input type="datetime-local" name="since" value={q.since ?? ''} />
            </label>
            <label>
              Until (UTC)
              <input type="datetime-local" name="until" value={q.until ?? ''} />
            </label>
            <button type="submit" class="secondary">
              Filter
            </button>
          </form>
          <p class="actions">
            <a class="button secondary" href={`/console/audit/export.csv${exportQuery ? `?${exportQuery}` : ''}`}>
              Export CSV
            </a>
            <a class="button secondary" href={`/console/audit/export.json${exportQuery ? `?${exportQuery}` : ''}`}>
              Export JSON
            </a>
          </p>
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Kind</th>
                  <th scope="col">User</th>
                  <th scope="col">From</th>
                  <th scope="col">Interface</th>
                  <th scope="col">Detail</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((e) => (
                  <tr>
                    <td>
                      <Time ms={e.at} />
                    </td>
                    <td>{e.kind}</td>
                    <td>{e.username}</td>
                    <td class="mono">{e.clientAddress}</td>
                    <td>{dialectName(e.dialect)}</td>
                    <td class="mono">
                      {Object.entries(e.detail)
                        .map(([k, v]) => `${k}=${String(v)}`)
                        .join(' ')}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {pager}
        </>,
      ),
    );
  });

  app.get('/audit/export.:format', route, async (req, reply) => {
    const s = await h.gate(req, reply, admin);
    if (!s) return reply;
    const format = (req.params as { format: string }).format;
    if (format !== 'csv' && format !== 'json') return sendProblem(reply, consoleRenderer, { code: 'no_route', detail: `no export as ${format.slice(0, 20)}` });
    const events = await auditEvents(queryOf(req));
    const rows = events.map((e) => ({ seq: e.seq, at: new Date(e.at).toISOString(), kind: e.kind, username: e.username, clientAddress: e.clientAddress, dialect: e.dialect, requestId: e.requestId, detail: e.detail }));
    reply.header('content-disposition', `attachment; filename="portcullis-audit.${format}"`);
    if (format === 'json') return reply.type('application/json; charset=utf-8').send(JSON.stringify(rows, null, 1));
    const cell = (v: unknown) => {
      const t = typeof v === 'string' ? v : JSON.stringify(v);
      // A leading = + - @ would run as a formula in a spreadsheet.
      const safe = /^[=+\-@\t\r]/.test(t) ? `'${t}` : t;
      return /[",\n\r]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
    };
    const header = ['seq', 'at', 'kind', 'username', 'clientAddress', 'dialect', 'requestId', 'detail'];
    const lines = [header.join(','), ...rows.map((r) => header.map((k) => cell(r[k as keyof typeof r])).join(','))];
    return reply.type('text/csv; charset=utf-8').send(`${lines.join('\r\n')}\r\n`);
  });

  // ---- account policy ----

  async function policyPage(s: SessionRecord, notice?: { kind: 'ok' | 'error'; text: string }, status = 200) {
    const settings = await deps.settings.get();
    return {
      status,
      html: view(
        s,
        'Account policy',
        '/console/policy',
        <>
          <h1>Account policy</h1>
          {notice && <Notice kind={notice.kind}>{notice.text}</Notice>}
          <p>The XClarity `userAccountSettings`: they apply to every dialect (new sessions take the timeouts in force when they start).</p>
          <form method="post" action="/console/policy" class="stack panel">
            <input type="hidden" name="csrf" value={s.csrf} />
            {SETTING_NAMES.map((n) => (
              <>
                <label for={`s-${n}`}>{n}</label>
                <input id={`s-${n}`} type="number" name={n} value={String(settings[n])} min={SETTING_RULES[n].min} max={SETTING_RULES[n].max} step={1} required aria-describedby={`h-${n}`} />
                <p class="hint" id={`h-${n}`}>
                  {SETTING_RULES[n].unit}; {SETTING_RULES[n].min} to {SETTING_RULES[n].max}
                </p>
              </>
            ))}
            <button type="submit">Save policy</button>
          </form>
        </>,
      ),
    };
  }

  app.get('/policy', route, async (req, reply) => {
    const s = await h.gate(req, reply, admin);
    if (!s) return reply;
    const p = await policyPage(s);
    return sendHtml(c, reply, p.status, p.html);
  });

  app.post('/policy', route, async (req, reply) => {
    const s = await gateWithCsrf(req, reply);
    if (!s) return reply;
    const patch: Record<string, unknown> = {};
    for (const n of SETTING_NAMES) {
      const v = formField(req.body, n);
      if (v === undefined || v.trim() === '') continue;
      patch[n] = /^-?\d+$/.test(v.trim()) ? Number(v.trim()) : v;
    }
    try {
      const { changed } = await deps.settings.set(patch);
      await deps.audit.record('settings.change', ctx(req), s.username, { changed: JSON.stringify(changed) });
      const p = await policyPage(s, { kind: 'ok', text: Object.keys(changed).length ? `Saved: ${Object.keys(changed).join(', ')}.` : 'Nothing changed.' });
      return sendHtml(c, reply, p.status, p.html);
    } catch (e) {
      if (e instanceof CoreError && e.code === 'invalid_input') {
        const p = await policyPage(s, { kind: 'error', text: e.message }, 400);
        return sendHtml(c, reply, p.status, p.html);
      }
      throw e;
    }
  });

  // ---- identity sources ----

  async function identityPage(s: SessionRecord, result?: { kind: 'ok' | 'error'; text: string }) {
    const idc = deps.config.identity;
    const providers = [...(deps.identity?.providers.keys() ?? [])].sort();
    return view(
      s,
      'Identity sources',
      '/console/identity',
      <>
        <h1>Identity sources</h1>
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Source</th>
                <th scope="col">State</th>
                <th scope="col">Settings</th>
              </tr>
            </thead>
            <tbody>
              <tr>
                <td>local</td>
                <td>
                  <span class="badge good">built in</span>
                </td>
                <td>accounts in the {deps.config.store} store</td>
              </tr>
              <tr>
                <td>pam</td>
                <td>{idc.pam ? <span class="badge good">configured</span> : <span class="badge">not configured</span>}</td>
                <td>{idc.pam ? `service ${idc.pam.service}, ${idc.pam.maxConcurrent} at once, timeout ${idc.pam.timeoutMs} ms` : '—'}</td>
              </tr>
              <tr>
                <td>ldap</td>
                <td>{idc.ldap ? <span class="badge good">configured</span> : <span class="badge">not configured</span>}</td>
                <td>{idc.ldap ? `${idc.ldap.url.join(', ')}${idc.ldap.startTls ? ' (StartTLS)' : ''}; users under ${idc.ldap.userBase}` : '—'}</td>
              </tr>
            </tbody>
          </table>
        </div>
        <section class="panel" aria-labelledby="test-h">
          <h2 id="test-h">Test a login</h2>
          <p>Checks a user's password against a source (it counts as a login attempt; no session is made).</p>
          {result && <Notice kind={result.kind}>{result.text}</Notice>}
          <form method="post" action="/console/identity/test" class="stack">
            <input type="hidden" name="csrf" value={s.csrf} />
            <label for="t-src">Source</label>
            <select id="t-src" name="provider">
              {providers.map((p) => (
                <option value={p}>{p}</option>
              ))}
            </select>
            <label for="t-user">User name</label>
            <input id="t-user" type="text" name="username" required autocomplete="off" />
            <label for="t-pass">Password</label>
            <input id="t-pass" type="password" name="password" required autocomplete="off" />
            <button type="submit">Test</button>
          </form>
        </section>
      </>,
    );
  }

  app.get('/identity', route, async (req, reply) => {
    const s = await h.gate(req, reply, admin);
    if (!s) return reply;
    return sendHtml(c, reply, 200, await identityPage(s));
  });

  app.post('/identity/test', route, async (req, reply) => {
    const s = await gateWithCsrf(req, reply);
    if (!s) return reply;
    const provider = formField(req.body, 'provider') ?? '';
    if (!deps.identity?.providers.has(provider)) return sendHtml(c, reply, 400, await identityPage(s, { kind: 'error', text: 'Choose a source.' }));
    let text: { kind: 'ok' | 'error'; text: string };
    try {
      const r = await deps.sessions.verifyCredentials({ provider, username: formField(req.body, 'username') ?? '', password: formField(req.body, 'password') ?? '', requiredRoles: 'any' }, ctx(req));
      text =
        r.kind === 'ok'
          ? { kind: 'ok', text: `Accepted by ${r.principal.source} (${r.principal.authServer}): roles ${r.principal.roles.join(', ') || 'none'}; organizations ${r.principal.organizations.join(', ')}.` }
          : r.kind === 'forbidden'
            ? { kind: 'error', text: 'The password is right, but the user has no role here.' }
            : { kind: 'error', text: 'Not accepted (unknown user, wrong password, disabled or locked).' };
    } catch (e) {
      if (!(e instanceof CoreError)) throw e;
      text = { kind: 'error', text: e.code === 'identity_unavailable' ? `The source did not answer: ${e.message}` : e.message };
    }
    return sendHtml(c, reply, 200, await identityPage(s, text));
  });
}
