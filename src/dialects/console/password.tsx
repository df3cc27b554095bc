import type { FastifyInstance, FastifyRequest } from 'fastify';
import { CoreError } from '../../core/errors.js';
import { MAX_PASSWORD_LENGTH } from '../../core/input.js';
import { requestContext } from '../../http/common.js';
import type { SessionRecord } from '../../ports/store.js';
import { LOGIN_PATH, MESSAGES } from './envelope.js';
import { Notice, page, type Viewer } from './layout.js';
import { PASSWORD_PATH, rdQuery } from './login.js';
import { TOTP_PATH, mustEnrol } from './totp.js';
import { csrfMatches, currentSession, formField, redirect, returnTarget, sendHtml, type ConsoleContext } from './shared.js';

/** The password rules in force, as a list a person reads before choosing. */
export async function passwordRules(c: ConsoleContext, username: string): Promise<string[]> {
  const s = await c.deps.settings.get();
  return [
    `At least ${s.MinimumPasswordLength} characters, at most ${MAX_PASSWORD_LENGTH}.`,
    `Not the same as your user name (${username}).`,
    ...(s.MinimumPasswordReuseCycle > 0 ? [`Not one of your last ${s.MinimumPasswordReuseCycle} passwords.`] : []),
    'Different from the current password.',
    ...(s.MaximumPasswordExpiration > 0 ? [`It expires after ${s.MaximumPasswordExpiration} days.`] : []),
  ];
}

export function viewerOf(c: ConsoleContext, s: SessionRecord): Viewer {
  return { username: s.username, csrf: s.csrf, admin: c.deps.isAdministrator(s.roles) && !s.mustChangePassword };
}

/**
 * Changing one's own password: the forced change after a login (the session may do
 * nothing else until it is done), and the voluntary one from "My account". After it
 * the browser continues to `rd`.
 */
export function registerPasswordChange(app: FastifyInstance, c: ConsoleContext): void {
  const route = { config: { dialect: 'console' } };

  async function form(s: SessionRecord, rd: string | undefined, notice?: { kind: 'error' | 'ok'; text: string }) {
    const rules = await passwordRules(c, s.username);
    const local = s.authSource === 'local';
    return page(
      { title: 'Change password', assets: c.assets, narrow: true, viewer: s.mustChangePassword ? undefined : viewerOf(c, s) },
      <>
        <h1>Change password</h1>
        {s.mustChangePassword && <Notice kind="info">Your password must be changed before you continue.</Notice>}
        {notice && <Notice kind={notice.kind}>{notice.text}</Notice>}
        {!local ? (
          <Notice kind="info">Your password is managed by the {s.authSource === 'pam' ? 'operating system' : 'directory'}; change it there.</Notice>
        ) : (
          <form method="post" action={PASSWORD_PATH} class="stack panel">
            <input type="hidden" name="csrf" value={s.csrf} />
            {rd && <input type="hidden" name="rd" value={rd} />}
            <p>Your new password must be:</p>
            <ul id="rules">
              {rules.map((r) => (
                <li>{r}</li>
              ))}
            </ul>
            <label for="current">Current password</label>
            <input id="current" type="password" name="current" autocomplete="current-password" required maxLength={MAX_PASSWORD_LENGTH} />
            <label for="new">New password</label>
            <input id="new" type="password" name="new" autocomplete="new-password" required maxLength={MAX_PASSWORD_LENGTH} aria-describedby="rules" />
            <label for="confirm">New password again</label>
            <input id="confirm" type="password" name="confirm" autocomplete="new-password" required maxLength={MAX_PASSWORD_LENGTH} />
            <button type="submit">Change password</button>
          </form>
        )}
      </>,
    );
  }

  const signIn = (req: FastifyRequest, rd: string) => `${LOGIN_PATH}${rdQuery(rd || req.url)}`;

  app.get(PASSWORD_PATH, route, async (req, reply) => {
    const target = returnTarget(c, (req.query as Record<string, unknown>).rd);
    const s = await currentSession(c, req);
    if (!s) return redirect(reply, signIn(req, ''));
    if (s.mustChangePassword && (await mustEnrol(c, s))) return redirect(reply, TOTP_PATH);
    return sendHtml(c, reply, 200, await form(s, target.url));
  });

  app.post(PASSWORD_PATH, route, async (req, reply) => {
    const body = req.body;
    const target = returnTarget(c, formField(body, 'rd'));
    const s = await currentSession(c, req);
    if (!s) return redirect(reply, `${LOGIN_PATH}${rdQuery(target.url)}`);
    if (!csrfMatches(formField(body, 'csrf'), s.csrf)) return sendHtml(c, reply, 403, await form(s, target.url, { kind: 'error', text: MESSAGES.csrf_mismatch }));
    if (s.authSource !== 'local') return sendHtml(c, reply, 400, await form(s, target.url));
    const current = formField(body, 'current') ?? '';
    const next = formField(body, 'new') ?? '';
    if (current === '' || next === '') return sendHtml(c, reply, 400, await form(s, target.url, { kind: 'error', text: 'Enter the current and the new password.' }));
    if (next !== formField(body, 'confirm')) return sendHtml(c, reply, 400, await form(s, target.url, { kind: 'error', text: 'The two new passwords are not the same.' }));
    let ok: boolean;
    try {
      ok = await c.deps.accounts.changeOwnPassword(s.username, current, next, s.id, requestContext(req, 'console'));
    } catch (e) {
      if (e instanceof CoreError && e.code === 'invalid_input') {
        return sendHtml(c, reply, 400, await form(s, target.url, { kind: 'error', text: `The new password is not accepted: it ${e.message.replace(/^password /, '')}.` }));
      }
      throw e;
    }
    if (!ok) return sendHtml(c, reply, 401, await form(s, target.url, { kind: 'error', text: 'The current password is not valid.' }));
    return redirect(reply, target.url);
  });
}
