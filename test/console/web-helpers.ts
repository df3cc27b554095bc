import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import type { Harness } from '../helpers.js';

export function setCookies(res: LightMyRequestResponse): string[] {
  const v = res.headers['set-cookie'];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** The Set-Cookie line of a cookie name: its value and lower-cased attributes. */
export function cookieOf(res: LightMyRequestResponse, name: string): { value: string; attrs: string[] } | undefined {
  const line = setCookies(res).find((c) => c.startsWith(`${name}=`));
  if (!line) return undefined;
  const [pair, ...attrs] = line.split(';').map((s) => s.trim());
  return { value: decodeURIComponent(pair!.slice(name.length + 1)), attrs: attrs.map((a) => a.toLowerCase()) };
}

/** The value of a hidden form field in a page. */
export function hidden(html: string, name: string): string | undefined {
  const m = new RegExp(`<input type="hidden" name="${name}" value="([^"]*)"`).exec(html);
  return m?.[1]?.replaceAll('&amp;', '&').replaceAll('&quot;', '"');
}

export function form(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

export interface WebLogin {
  token: string;
  csrf: string;
  cookie: string;
  location: string;
}

/** Signs in through the HTML login page as a browser would: GET the form, POST it with its token. */
export async function webLogin(h: Harness, user: { username: string; password: string; otp?: string }, rd?: string): Promise<LightMyRequestResponse> {
  const get = await h.app.inject({ method: 'GET', url: `/portcullis/login${rd !== undefined ? `?rd=${encodeURIComponent(rd)}` : ''}` });
  assert.equal(get.statusCode, 200, get.body);
  const token = cookieOf(get, 'portcullis_login_csrf')!.value;
  const fields: Record<string, string> = { csrf: hidden(get.body, 'csrf')!, username: user.username, password: user.password };
  const rdField = hidden(get.body, 'rd');
  if (rdField !== undefined) fields.rd = rdField;
  if (user.otp !== undefined) fields.otp = user.otp;
  return h.app.inject({
    method: 'POST',
    url: '/portcullis/login',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `portcullis_login_csrf=${token}` },
    payload: form(fields),
  });
}

export function sessionOf(res: LightMyRequestResponse, cookieName = 'JSESSIONID'): WebLogin {
  assert.equal(res.statusCode, 303, res.body);
  const token = cookieOf(res, cookieName)!.value;
  const csrf = cookieOf(res, 'csrf')!.value;
  return { token, csrf, cookie: `${cookieName}=${token}; csrf=${csrf}`, location: String(res.headers.location) };
}

export function postForm(h: Harness, url: string, cookie: string, fields: Record<string, string>) {
  return h.app.inject({ method: 'POST', url, headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, payload: form(fields) });
}
