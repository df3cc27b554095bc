import { serialize as serializeCookie } from 'cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CoreError } from '../../core/errors.js';
import { MAX_PASSWORD_LENGTH } from '../../core/input.js';
import { header, requestContext, type ProblemCode } from '../../http/common.js';
import { CONSOLE_PATH, LOGIN_PATH, MESSAGES } from './envelope.js';
import { Notice, page } from './layout.js';
import {
  LOGIN_CSRF_COOKIE,
  cookiesOf,
  csrfMatches,
  currentSession,
  formField,
  newFormToken,
  redirect,
  returnTarget,
  sendHtml,
  sessionCookies,
  type ConsoleContext,
} from './shared.js';

export const PASSWORD_PATH = `${LOGIN_PATH}/password`;

/** `?rd=` for a link, or nothing. */
export function rdQuery(rd: string | undefined): string {
  return rd && rd !== CONSOLE_PATH ? `?rd=${encodeURIComponent(rd)}` : '';
}

function LoginForm(props: { token: string; rd: string | undefined; username?: string | undefined }) {
  return (
    <form method="post" action={LOGIN_PATH} class="stack panel" autocomplete="on">
      <input type="hidden" name="csrf" value={props.token} />
      {props.rd && <input type="hidden" name="rd" value={props.rd} />}
      <label for="username">User name</label>
      <input id="username" type="text" name="username" autocomplete="username" required maxLength={256} value={props.username ?? ''} autofocus />
      <label for="password">Password</label>
      <input id="password" type="password" name="password" autocomplete="current-password" required maxLength={MAX_PASSWORD_LENGTH} />
      <label for="otp">Authentication code</label>
      <input id="otp" type="text" name="otp" inputMode="numeric" autocomplete="one-time-code" maxLength={32} aria-describedby="otp-hint" />
      <p class="hint" id="otp-hint">
        Only if your account uses an authenticator app: the 6-digit code, or one of your recovery codes.
      </p>
      <button type="submit">Sign in</button>
    </form>
  );
}

/**
 * The login page of the gateway and the console: `GET/POST /portcullis/login?rd=<return URL>`
 * and the forced password change at `/portcullis/login/password`. Plain HTML forms:
 * no script needed.
 */
export function registerLogin(app: FastifyInstance, c: ConsoleContext): void {
  const { deps } = c;
  const route = { config: { dialect: 'console' } };
  const loginCsrfOptions = { path: LOGIN_PATH, httpOnly: true, secure: true, sameSite: 'strict' as const, maxAge: 3600 };

  function loginPage(reply: FastifyReply, status: number, opts: { token: string; rd: string | undefined; notice?: { kind: 'error' | 'info'; text: string }[]; username?: string | undefined }) {
    reply.header('set-cookie', serializeCookie(LOGIN_CSRF_COOKIE, opts.token, loginCsrfOptions));
    const html = page(
      { title: 'Sign in', assets: c.assets, narrow: true },
      <>
        <h1>Sign in</h1>
        {(opts.notice ?? []).map((n) => (
          <Notice kind={n.kind}>{n.text}</Notice>
        ))}
        <LoginForm token={opts.token} rd={opts.rd} username={opts.username} />
      </>,
    );
    return sendHtml(c, reply, status, html);
  }

  /** Where a signed-in browser goes next: the forced password change first, then the return URL. */
  function continueTo(session: { mustChangePassword: boolean }, target: string): string {
    return session.mustChangePassword ? `${PASSWORD_PATH}${rdQuery(target)}` : target;
  }

  const query = (req: FastifyRequest) => req.query as Record<string, unknown>;

  app.get(LOGIN_PATH, route, async (req, reply) => {
    const target = returnTarget(c, query(req).rd);
    const session = await currentSession(c, req);
    if (session && !target.refused) return redirect(reply, continueTo(session, target.url));
    const existing = cookiesOf(req)[LOGIN_CSRF_COOKIE];
    const token = existing && /^[A-Za-z0-9_-]{43}$/.test(existing) ? existing : newFormToken();
    const notice = target.refused
      ? [{ kind: 'info' as const, text: `The return address was not accepted (${target.refused}); after signing in you will go to the console.` }]
      : [];
    return loginPage(reply, 200, { token, rd: target.refused ? undefined : target.url, notice });
  });

  app.post(LOGIN_PATH, route, async (req, reply) => {
    const form = req.body;
    const target = returnTarget(c, formField(form, 'rd'));
    const rd = target.refused ? undefined : target.url;
    const username = formField(form, 'username');
    const fresh = newFormToken();
    if (!csrfMatches(formField(form, 'csrf'), cookiesOf(req)[LOGIN_CSRF_COOKIE]) || !sameOrigin(req)) {
      return loginPage(reply, 403, { token: fresh, rd, username, notice: [{ kind: 'error', text: MESSAGES.csrf_mismatch }] });
    }
    const password = formField(form, 'password');
    if (username === undefined || password === undefined || username === '' || password === '') {
      return loginPage(reply, 400, { token: fresh, rd, username, notice: [{ kind: 'error', text: 'Enter your user name and password.' }] });
    }
    const otp = formField(form, 'otp')?.trim();
    let result;
    try {
      result = await deps.sessions.login(
        {
          provider: c.provider,
          username,
          password,
          requiredRoles: deps.config.web.allowedRoles,
          allowsEnrolment: true,
          ...(otp ? { secondFactor: otp } : {}),
        },
        requestContext(req, 'console'),
      );
    } catch (e) {
      if (!(e instanceof CoreError) || e.code === 'internal') throw e;
      const status = e.code === 'invalid_input' ? 400 : e.code === 'unsupported_auth_type' ? 400 : 503;
      if (e.code === 'busy' || e.code === 'unavailable') reply.header('retry-after', e.code === 'busy' ? '1' : '2');
      const text = e.code === 'invalid_input' ? `${MESSAGES.invalid_input} ${e.message}.` : MESSAGES[e.code];
      return loginPage(reply, status, { token: fresh, rd, username, notice: [{ kind: 'error', text }] });
    }
    if (result.kind !== 'ok') {
      const code: ProblemCode = result.kind;
      const status = code === 'invalid_credentials' ? 401 : code === 'forbidden' ? 403 : 429;
      return loginPage(reply, status, { token: fresh, rd, username, notice: [{ kind: 'error', text: MESSAGES[code] }] });
    }
    reply.header('set-cookie', [...sessionCookies(c, result.token, result.session.csrf), serializeCookie(LOGIN_CSRF_COOKIE, '', { ...loginCsrfOptions, maxAge: 0 })]);
    return redirect(reply, continueTo(result.session, rd ?? CONSOLE_PATH));
  });
}

/**
 * A browser that says where a form came from must say "this site": Sec-Fetch-Site
 * (set by the browser, not by page script) decides when present; otherwise an
 * Origin other than "null" must be this host. (With `Referrer-Policy: no-referrer`
 * browsers send `Origin: null` on form posts.) Clients that send neither are
 * guarded by the csrf token alone.
 */
export function sameOrigin(req: FastifyRequest): boolean {
  const site = header(req, 'sec-fetch-site');
  if (site !== undefined) return site === 'same-origin' || site === 'same-site';
  const origin = header(req, 'origin');
  if (origin === undefined || origin === 'null') return true;
  try {
    return new URL(origin).host === req.host;
  } catch {
    return false;
  }
}
