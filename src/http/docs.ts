import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parse as parseCookies } from 'cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { DialectDeps } from '../dialects/types.js';
import { clientAddress, header, isUserActivity, sendProblem, type DialectRenderer } from './common.js';

/**
 * GET /docs — the API documents and their viewer (Swagger UI from the swagger-ui-dist
 * package, served from disk, no CDN), /docs/<dialect>/openapi.json, and the
 * reference pages of docs/ as text. Who may read them is `docs.access`.
 */

/** The viewer's files taken from swagger-ui-dist, with their types. Nothing else of the package is served. */
const VIEWER_FILES: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'swagger-ui-standalone-preset.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
  'favicon-16x16.png': 'image/png',
};

/** The reference pages linked from /docs, in the order shown. */
export const GUIDE_PAGES: Record<string, string> = {
  hcx: 'HCX dialect',
  xclarity: 'XClarity dialect',
  redfish: 'Redfish dialect',
  vcenter: 'vCenter dialect',
  gateway: 'Gateway: forward-auth and introspection',
  'admin-api': 'Admin API',
  'account-policy': 'Account policy',
  identity: 'Identity sources',
  identities: 'Canonical identities',
  configuration: 'Configuration',
  operations: 'Operations',
  'client-testing': 'Client-testing mode',
  clients: 'Real clients of each dialect',
  openapi: 'The OpenAPI documents and the drift test',
};

/** Scripts and styles from this origin only; Swagger UI sets inline style attributes. */
const DOCS_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

function viewerDir(): string | undefined {
  try {
    return dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
  } catch {
    return undefined;
  }
}

const isLoopback = (ip: string) => ip === '::1' || ip.startsWith('127.');

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export interface DocsOptions {
  /** The package's root (docs/ lives there); absent = the guide pages are not served. */
  packageRoot?: string | undefined;
  /** Renders refusals (the admin API's envelope). */
  renderer: DialectRenderer;
}

export function registerDocs(app: FastifyInstance, deps: DialectDeps, opts: DocsOptions): void {
  const { config, sessions } = deps;
  const access = config.docs.access;
  const ui = viewerDir();
  // In no document (hide), refusals in the renderer's envelope (config.dialect).
  const hidden = { schema: { hide: true }, config: { dialect: opts.renderer.name } };

  /** The session token in any of the places a dialect takes one. */
  function token(req: FastifyRequest): string | undefined {
    const auth = header(req, 'authorization');
    const m = auth ? /^bearer +(\S+) *$/i.exec(auth) : null;
    if (m) return m[1];
    const hm = header(req, 'x-hm-authorization');
    if (hm !== undefined) return hm;
    const raw = header(req, 'cookie');
    return raw ? parseCookies(raw)[config.lxca.sessionCookie] : undefined;
  }

  /** Whether the request may read the documents; when not, the refusal is sent. */
  async function allowed(req: FastifyRequest, reply: FastifyReply): Promise<boolean> {
    if (access === 'public') return true;
    if (access === 'local-or-admin' && isLoopback(clientAddress(req))) return true;
    const session = await sessions.authenticate(token(req), isUserActivity(req));
    if (!session) {
      sendProblem(reply, opts.renderer, { code: 'invalid_session', detail: 'The API documents are for administrators: log in and send the session token (Authorization: Bearer, x-hm-authorization or the session cookie).' });
      return false;
    }
    sessions.assertMay(session, 'use');
    if (!deps.isAdministrator(session.roles)) {
      sendProblem(reply, opts.renderer, { code: 'forbidden' });
      return false;
    }
    return true;
  }

  const notFound = (req: FastifyRequest, reply: FastifyReply) => sendProblem(reply, opts.renderer, { code: 'no_route', detail: `${req.method} ${req.url.slice(0, 200)}` });

  if (access === 'off') return;

  app.get('/docs', hidden, async (req, reply) => {
    if (!(await allowed(req, reply))) return reply;
    const dialects = app.openapi.dialects();
    const items = dialects
      .map((d) => {
        const title = String((app.openapi.document(d)?.info as { title?: string } | undefined)?.title ?? d);
        return `<li><a href="/docs/${d}/openapi.json">${escapeHtml(title)}</a> (<code>/docs/${d}/openapi.json</code>)</li>`;
      })
      .join('');
    const guides = opts.packageRoot
      ? Object.entries(GUIDE_PAGES)
          .map(([f, title]) => `<li><a href="/docs/guide/${f}.md">${escapeHtml(title)}</a></li>`)
          .join('')
      : '';
    const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Portcullis API</title>
<link rel="icon" type="image/png" href="/docs/ui/favicon-32x32.png">
${ui ? '<link rel="stylesheet" href="/docs/ui/swagger-ui.css">' : ''}
</head><body>
<header style="font-family:sans-serif;margin:1em 2em">
<h1>Portcullis API documents</h1>
<p>One OpenAPI 3.1 document per dialect, made from the routes' own schemas:</p><ul>${items}</ul>
${guides ? `<p>Reference pages:</p><ul>${guides}</ul>` : ''}
</header>
<div id="swagger-ui"></div>
${ui ? '<script src="/docs/ui/swagger-ui-bundle.js"></script><script src="/docs/ui/swagger-ui-standalone-preset.js"></script><script src="/docs/init.js"></script>' : '<p>The viewer (swagger-ui-dist) is not installed.</p>'}
</body></html>`;
    return reply.header('content-security-policy', DOCS_CSP).type('text/html; charset=utf-8').send(html);
  });

  app.get('/docs/init.js', hidden, async (req, reply) => {
    if (!(await allowed(req, reply))) return reply;
    // The vendor dialects first, Portcullis's own APIs (the gateway, the admin API) last.
    const names = app.openapi.dialects();
    const own = (d: string) => d === 'gateway' || d === opts.renderer.name;
    const urls = [...names.filter((d) => !own(d)), ...names.filter(own)].map((d) => ({ url: `/docs/${d}/openapi.json`, name: d }));
    const settings = { urls, dom_id: '#swagger-ui', deepLinking: true };
    const js = `window.ui = SwaggerUIBundle(Object.assign(${JSON.stringify(settings)}, { presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: 'StandaloneLayout' }));\n`;
    return reply.header('content-security-policy', DOCS_CSP).type('text/javascript; charset=utf-8').send(js);
  });

  app.get<{ Params: { file: string } }>('/docs/ui/:file', hidden, async (req, reply) => {
    if (!(await allowed(req, reply))) return reply;
    const type = Object.hasOwn(VIEWER_FILES, req.params.file) ? VIEWER_FILES[req.params.file] : undefined;
    if (!ui || !type) return notFound(req, reply);
    // Cached by the browser: the files change only with the package.
    return reply.header('cache-control', 'public, max-age=3600').type(type).send(readFileSync(join(ui, req.params.file)));
  });

  app.get<{ Params: { page: string } }>('/docs/guide/:page', hidden, async (req, reply) => {
    if (!(await allowed(req, reply))) return reply;
    const name = req.params.page.replace(/\.md$/, '');
    if (!opts.packageRoot || !Object.hasOwn(GUIDE_PAGES, name)) return notFound(req, reply);
    let text: string;
    try {
      text = readFileSync(join(opts.packageRoot, 'docs', `${name}.md`), 'utf8');
    } catch {
      return notFound(req, reply);
    }
    return reply.type('text/plain; charset=utf-8').send(text);
  });

  app.get<{ Params: { dialect: string } }>('/docs/:dialect/openapi.json', hidden, async (req, reply) => {
    if (!(await allowed(req, reply))) return reply;
    const doc = app.openapi.document(req.params.dialect);
    if (!doc) return notFound(req, reply);
    return reply.type('application/json; charset=utf-8').send(doc);
  });
}
