import type { IncomingHttpHeaders } from 'node:http';

/**
 * The request the proxy is asking about, rebuilt from the headers each proxy's
 * convention sets. Portcullis must be reachable by the proxy only (docs/gateway.md):
 * these headers are trusted as the proxy's word.
 */
export interface OriginalRequest {
  method: string;
  proto: 'http' | 'https';
  /** As sent (may carry a port), for the return URL. */
  host: string;
  /** Lower case, without the port, for the rules. */
  hostname: string;
  /** Path and query as sent. */
  uri: string;
}

/** Which convention a forward-auth endpoint speaks. */
export type Convention = 'nginx' | 'forward' | 'envoy';

export const ENVOY_PREFIX = '/portcullis/auth/ext-authz';

const HOST = /^(?:[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,252})|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;
const METHOD = /^[A-Z]{1,16}$/;

function one(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return typeof v === 'string' ? v : undefined;
}

/** The first value of a comma-separated forwarding header (the proxy nearest the client). */
function first(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const c = v.indexOf(',');
  return (c < 0 ? v : v.slice(0, c)).trim() || undefined;
}

function build(method: string | undefined, proto: string | undefined, host: string | undefined, uri: string | undefined): OriginalRequest | string {
  const m = (method ?? 'GET').toUpperCase();
  if (!METHOD.test(m)) return 'the original method is not an HTTP method';
  const pr = (proto ?? 'http').toLowerCase();
  if (pr !== 'http' && pr !== 'https') return 'the original scheme must be http or https';
  if (host === undefined || !HOST.test(host)) return 'the original host is missing or malformed';
  if (uri === undefined || !uri.startsWith('/') || uri.length > 8192) return 'the original URI is missing or does not start with /';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0020\u007f]/.test(uri)) return 'the original URI holds spaces or control characters';
  const colon = host.startsWith('[') ? host.indexOf(']:') + 1 : host.lastIndexOf(':');
  const hostname = (colon > 0 ? host.slice(0, colon) : host).toLowerCase().replace(/\.$/, '');
  return { method: m, proto: pr, host, hostname, uri };
}

/**
 * nginx `auth_request`: `X-Original-URL` (the whole URL, as the generated config
 * sets it from `$scheme://$http_host$request_uri`) and `X-Original-Method`; a
 * config that sets the X-Forwarded-* headers instead works too.
 */
function fromNginx(h: IncomingHttpHeaders): OriginalRequest | string {
  const url = one(h, 'x-original-url');
  if (url !== undefined) {
    const m = /^(https?):\/\/([^/?#]*)(.*)$/i.exec(url);
    if (!m) return 'X-Original-URL must be an absolute http(s) URL';
    return build(one(h, 'x-original-method') ?? one(h, 'x-forwarded-method'), m[1], m[2], m[3] || '/');
  }
  return fromForwarded(h);
}

/** Traefik ForwardAuth and Caddy forward_auth: X-Forwarded-Method, -Proto, -Host, -Uri. */
function fromForwarded(h: IncomingHttpHeaders): OriginalRequest | string {
  return build(one(h, 'x-forwarded-method'), first(one(h, 'x-forwarded-proto')), first(one(h, 'x-forwarded-host')), one(h, 'x-forwarded-uri'));
}

/**
 * Envoy ext_authz (HTTP service): the check request keeps the original method and
 * Host, and its path is `path_prefix` + the original path and query.
 */
function fromEnvoy(h: IncomingHttpHeaders, method: string, url: string): OriginalRequest | string {
  const rest = url.slice(ENVOY_PREFIX.length);
  const uri = rest === '' ? '/' : rest.startsWith('?') ? `/${rest}` : rest;
  return build(method, first(one(h, 'x-forwarded-proto')), one(h, 'host'), uri);
}

/** The original request, or why it cannot be known (the proxy's configuration is wrong). */
export function originalRequest(conv: Convention, h: IncomingHttpHeaders, method: string, url: string): OriginalRequest | string {
  return conv === 'nginx' ? fromNginx(h) : conv === 'forward' ? fromForwarded(h) : fromEnvoy(h, method, url);
}

/**
 * Whether a client prefers an HTML page to JSON (a browser navigating): `text/html`
 * accepted with a quality above that of `application/json` (and of a bare `*​/*`).
 * curl's `*​/*` and fetch()'s default are API clients; so is anything sending
 * `X-Requested-With`.
 */
export function prefersHtml(h: IncomingHttpHeaders): boolean {
  const accept = one(h, 'accept');
  if (accept === undefined || accept.length > 2048 || h['x-requested-with'] !== undefined) return false;
  let html = 0;
  let json = 0;
  for (const part of accept.split(',')) {
    const [type = '', ...params] = part.split(';');
    let q = 1;
    for (const p of params) {
      const m = /^\s*q\s*=\s*([0-9.]+)\s*$/i.exec(p);
      if (m) q = Math.min(1, Number(m[1]) || 0);
    }
    const t = type.trim().toLowerCase();
    if (t === 'text/html' || t === 'application/xhtml+xml') html = Math.max(html, q);
    else if (t === 'application/json' || t.endsWith('+json')) json = Math.max(json, q);
  }
  return html > 0 && html > json;
}
