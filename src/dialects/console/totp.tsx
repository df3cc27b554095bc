import type { FastifyInstance } from 'fastify';
import { CoreError } from '../../core/errors.js';
import { requestContext } from '../../http/common.js';
import type { SessionRecord } from '../../ports/store.js';
import { Notice, page } from './layout.js';
import type { PageHelpers } from './pages.js';
import { viewerOf } from './password.js';
import { csrfMatches, formField, redirect, sendHtml, type ConsoleContext } from './shared.js';

export const TOTP_PATH = '/console/account/totp';

/** Whether policy sends this session to enrolment before anything else. */
export async function mustEnrol(c: ConsoleContext, s: SessionRecord): Promise<boolean> {
  const sf = c.deps.secondFactors;
  return sf.requiredFor(s.roles, s.authSource) && !(await sf.status(s.username)).enrolled;
}

/** TOTP enrolment (QR code drawn on the server), confirmation, and the recovery codes shown once. */
export function registerTotp(app: FastifyInstance, c: ConsoleContext, h: PageHelpers): void {
  const sf = c.deps.secondFactors;
  const route = { config: { dialect: 'console' } };

  async function totpPage(s: SessionRecord, opts: { notice?: { kind: 'ok' | 'error' | 'info'; text: string }; codes?: string[] } = {}) {
    const st = await sf.status(s.username);
    const pending = st.pending ? await sf.pending(s.username) : null;
    const qr = pending ? `data:image/svg+xml;base64,${Buffer.from(await (await import('qrcode')).default.toString(pending.uri, { type: 'svg', margin: 1, errorCorrectionLevel: 'M' })).toString('base64')}` : undefined;
    const required = sf.requiredFor(s.roles, s.authSource);
    return page(
      { title: 'Authenticator app', assets: c.assets, viewer: viewerOf(c, s), current: '/console/account', script: true },
      <>
        <h1>Authenticator app (TOTP)</h1>
        {required && !st.enrolled && <Notice kind="info">Administrators must use an authenticator app. Set it up to continue.</Notice>}
        {opts.notice && <Notice kind={opts.notice.kind}>{opts.notice.text}</Notice>}
        {opts.codes && (
          <section class="panel" aria-labelledby="codes-h">
            <h2 id="codes-h">Your recovery codes</h2>
            <p>Each code signs you in once when you do not have your phone. Keep them somewhere safe: they are shown only now.</p>
            <ul class="codes" id="recovery-codes">
              {opts.codes.map((x) => (
                <li>
                  <code>{x}</code>
                </li>
              ))}
            </ul>
            <p>
              <a class="button" href="/console/account">
                Done
              </a>
            </p>
          </section>
        )}
        {st.enrolled && !opts.codes && (
          <section class="panel">
            <p>
              <span class="badge good">On</span> Sign-ins ask for a code from your app. Recovery codes left: <strong>{st.recoveryLeft}</strong>.
            </p>
            <p class="hint">API clients with one password field append the current 6-digit code to the password. Lost the phone and the codes? An administrator can reset the factor.</p>
          </section>
        )}
        {!st.enrolled && !pending && (
          <section class="panel">
            {sf.mayEnrol(s.authSource) ? (
              <form method="post" action={`${TOTP_PATH}/begin`}>
                <input type="hidden" name="csrf" value={s.csrf} />
                <p>Protect your account with a second factor: a 6-digit code from an authenticator app on your phone.</p>
                <button type="submit">Set up an authenticator app</button>
              </form>
            ) : (
              <p>Your account comes from the {s.authSource} source, for which this service does not offer a second factor.</p>
            )}
          </section>
        )}
        {pending && qr && (
          <section class="panel" aria-labelledby="scan-h">
            <h2 id="scan-h">1. Scan this code with the app</h2>
            <img class="qr" src={qr} alt="QR code of the authenticator app setup (the key is also written below)" width={224} height={224} />
            <p>
              Or enter the key by hand: <code id="totp-secret">{pending.secret.match(/.{1,4}/g)!.join(' ')}</code>
            </p>
            <h2>2. Enter the code it shows</h2>
            <form method="post" action={`${TOTP_PATH}/confirm`} class="stack">
              <input type="hidden" name="csrf" value={s.csrf} />
              <label for="code">6-digit code</label>
              <input id="code" type="text" name="code" inputMode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxLength={6} required />
              <button type="submit">Turn on</button>
            </form>
          </section>
        )}
      </>,
    );
  }

  app.get('/account/totp', route, async (req, reply) => {
    const s = await h.gate(req, reply, { enrolment: true });
    if (!s) return reply;
    return sendHtml(c, reply, 200, await totpPage(s));
  });

  app.post('/account/totp/begin', route, async (req, reply) => {
    const s = await h.gate(req, reply, { enrolment: true });
    if (!s) return reply;
    if (!csrfMatches(formField(req.body, 'csrf'), s.csrf)) return sendHtml(c, reply, 403, await h.errorPage(403, 'csrf_mismatch', undefined, req));
    try {
      await sf.begin(s.username, s.authSource);
    } catch (e) {
      if (e instanceof CoreError && (e.code === 'conflict' || e.code === 'forbidden')) return sendHtml(c, reply, e.code === 'conflict' ? 409 : 403, await totpPage(s, { notice: { kind: 'error', text: e.message } }));
      throw e;
    }
    return redirect(reply, TOTP_PATH);
  });

  app.post('/account/totp/confirm', route, async (req, reply) => {
    const s = await h.gate(req, reply, { enrolment: true });
    if (!s) return reply;
    if (!csrfMatches(formField(req.body, 'csrf'), s.csrf)) return sendHtml(c, reply, 403, await h.errorPage(403, 'csrf_mismatch', undefined, req));
    const codes = await sf.confirm(s.username, (formField(req.body, 'code') ?? '').trim(), requestContext(req, 'console'));
    if (!codes) return sendHtml(c, reply, 400, await totpPage(s, { notice: { kind: 'error', text: 'That code is not valid. Check the time on your phone and enter the current code.' } }));
    const now = await c.deps.sessions.completeEnrolment(s);
    return sendHtml(c, reply, 200, await totpPage(now, { notice: { kind: 'ok', text: 'The authenticator app is on.' }, codes }));
  });
}
