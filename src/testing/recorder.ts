import { closeSync, openSync, writeSync } from 'node:fs';

/**
 * The recorder of client-testing mode: every request and answer as one JSON line,
 * secrets masked — passwords, tokens, cookies, csrf values, anything under a
 * secret-sounding name, and every token value this instance has handed out,
 * wherever it appears afterwards (a vCenter login answers with the bare token).
 */
export const MASK = '***';

/** Headers whose values are credentials, both ways. */
const SECRET_HEADERS = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-hm-authorization',
  'x-auth-token',
  'vmware-api-session-id',
  'x-csrf-token',
]);
/** Body fields whose values are secrets, at any depth. */
const SECRET_FIELD = /pass(word)?|secret|token|csrf|otp|totp|recovery|credential/i;

export interface Exchange {
  time: string;
  requestId: string;
  dialect: string;
  method: string;
  url: string;
  requestHeaders: Record<string, string | string[] | undefined>;
  requestBody: unknown;
  status: number;
  responseHeaders: Record<string, unknown>;
  responseBody: unknown;
  /** Set when a fault rule shaped the answer. */
  fault?: string;
}

export class Recorder {
  private fd: number | undefined;
  /** Token values seen (bounded), masked wherever they appear again. */
  private readonly secrets = new Set<string>();

  constructor(private readonly file: string) {
    this.fd = openSync(file, 'a', 0o600);
  }

  /** Remembers values this exchange carries that are secrets (issued tokens, csrf cookies). */
  private learn(headers: Record<string, unknown>): void {
    for (const [k, v] of Object.entries(headers)) {
      if (!SECRET_HEADERS.has(k.toLowerCase())) continue;
      for (const one of ([] as unknown[]).concat(v)) {
        if (typeof one !== 'string') continue;
        for (const piece of one.split(/[;,]\s*|\s+/)) {
          const value = piece.includes('=') ? piece.slice(piece.indexOf('=') + 1) : piece;
          if (value.length >= 16) this.remember(value);
        }
      }
    }
  }

  private remember(value: string): void {
    if (this.secrets.size >= 10_000) this.secrets.delete(this.secrets.values().next().value!);
    this.secrets.add(value);
  }

  /** Secret headers masked; Authorization keeps its scheme ("Basic ***"), cookies their names ("JSESSIONID=***"), so a replay knows what to put back. */
  private maskHeaders(h: Record<string, unknown>): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(h)) {
      const name = k.toLowerCase();
      if (!SECRET_HEADERS.has(name)) out[k] = v;
      else if (name === 'authorization' || name === 'proxy-authorization') out[k] = typeof v === 'string' && /^\S+ /.test(v) ? `${v.split(' ', 1)[0]} ${MASK}` : MASK;
      else if (name === 'cookie') out[k] = typeof v === 'string' ? v.split(/;\s*/).map((c) => `${c.split('=', 1)[0]}=${MASK}`).join('; ') : MASK;
      else if (name === 'set-cookie') out[k] = ([] as unknown[]).concat(v).map((c) => (typeof c === 'string' ? c.replace(/^([^=]+)=[^;]*/, `$1=${MASK}`) : MASK));
      else out[k] = MASK;
    }
    return out;
  }

  private maskValue(v: unknown, key = ''): unknown {
    if (typeof v === 'string') return SECRET_FIELD.test(key) || this.secrets.has(v) ? MASK : this.scrub(v);
    if (Array.isArray(v)) return v.map((x) => this.maskValue(x, key));
    if (v && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, SECRET_FIELD.test(k) && x !== null && typeof x !== 'object' ? MASK : this.maskValue(x, k)]));
    }
    return v;
  }

  /** Any remembered secret inside a longer string. */
  private scrub(s: string): string {
    let out = s;
    for (const secret of this.secrets) if (out.includes(secret)) out = out.split(secret).join(MASK);
    return out;
  }

  private body(raw: unknown, isLogin: boolean): unknown {
    if (raw === undefined || raw === '') return undefined;
    let value = raw;
    if (typeof raw === 'string') {
      try {
        value = JSON.parse(raw);
      } catch {
        return this.scrub(raw);
      }
    }
    // A login that answers with the bare token (vCenter's `"<id>"`, `{"value":"<id>"}`).
    if (isLogin && typeof value === 'string') {
      this.remember(value);
      return MASK;
    }
    if (isLogin && value && typeof value === 'object' && !Array.isArray(value) && typeof (value as { value?: unknown }).value === 'string') {
      this.remember((value as { value: string }).value);
    }
    return this.maskValue(value);
  }

  write(e: Omit<Exchange, 'requestBody' | 'responseBody'> & { requestBody: unknown; responseBody: unknown; isLogin: boolean }): void {
    if (this.fd === undefined) return;
    this.learn(e.requestHeaders);
    this.learn(e.responseHeaders);
    const { isLogin, ...rest } = e;
    const line: Exchange = {
      ...rest,
      url: this.scrub(e.url),
      requestHeaders: this.maskHeaders(e.requestHeaders) as Exchange['requestHeaders'],
      requestBody: this.body(e.requestBody, false),
      responseHeaders: this.maskHeaders(e.responseHeaders),
      responseBody: this.body(e.responseBody, isLogin),
    };
    writeSync(this.fd, JSON.stringify(line) + '\n');
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
