import { Command } from 'commander';
import type { Config } from '../config.js';
import type { IdentityHeaderNames } from '../config/gateway.js';
import { hasRequiredRole } from '../core/sessions.js';
import { compileRules, decide, normalizePath, pathMatcher, type CompiledRule } from '../dialects/gateway/rules.js';
import type { Portcullis } from '../service.js';

/** What cli.ts lends a command group. */
export interface CliContext {
  configFrom(cmd: Command): Config;
  withCore<T>(cmd: Command, fn: (p: Portcullis) => Promise<T>): Promise<T>;
  /** An error printed as `portcullis: message` with exit code 2. */
  usage(message: string): Error;
}

/** `portcullis access test` and `portcullis proxy-config`. */
export function registerGatewayCommands(root: Command, cli: CliContext): void {
  const access = root.command('access').description('the gateway\'s access rules (gateway.rules)');
  access
    .command('test <url>')
    .description('print which rule decides a request to <url> and why (exit 0: allowed, 1: refused)')
    .option('-X, --method <method>', 'the request method', 'GET')
    .option('--user <username>', 'decide for this user (roles of the local account, or of a live session)')
    .option('--roles <roles>', 'decide for a user holding these roles (comma-separated), instead of looking one up')
    .action(async (raw: string, opts: { method: string; user?: string; roles?: string }, cmd: Command) => {
      let u: URL;
      try {
        u = new URL(raw);
      } catch {
        throw cli.usage(`"${raw}" is not an absolute URL (https://host/path)`);
      }
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw cli.usage('the URL must be http:// or https://');
      const config = cli.configFrom(cmd);
      const rules = compileRules(config.gateway.rules);
      const method = opts.method.toUpperCase();
      const rawPath = raw.replace(/^[a-z]+:\/\/[^/?#]*/i, '').replace(/#.*$/, '') || '/';
      const path = normalizePath(rawPath);
      const lines: [string, string][] = [['request:', `${method} ${u.protocol}//${u.host}${rawPath}`]];
      if (path === undefined) {
        lines.push(['decision:', 'deny (403): the path cannot be read unambiguously (an encoded dot segment, slash or backslash)']);
        return finish(lines, false);
      }
      if (path !== rawPath.split('?')[0]) lines.push(['path:', `${path} (as the rules read it)`]);
      const d = decide(rules, { method, hostname: u.hostname.toLowerCase(), path });
      lines.push(['rule:', d.rule ? describeRule(d.rule) : `none of the ${rules.length} rules matches: default deny`]);
      if (d.kind === 'deny') {
        lines.push(['decision:', 'deny (403) for everyone']);
        return finish(lines, false);
      }
      if (d.kind === 'anonymous') {
        lines.push(['decision:', 'allow, without a session (identity headers sent empty)']);
        return finish(lines, true);
      }
      const need = d.roles === 'any' ? 'any live session' : `a session holding one of: ${d.roles.join(', ')}`;
      let who: { name: string; roles: string[]; mustChange: boolean; from: string } | undefined;
      if (opts.roles !== undefined) {
        who = { name: opts.user ?? '(given roles)', roles: opts.roles.split(',').map((r) => r.trim()).filter(Boolean), mustChange: false, from: '--roles' };
      } else if (opts.user !== undefined) {
        const name = opts.user;
        who = await cli.withCore(cmd, async (p) => {
          try {
            const a = await p.accounts.get(name);
            return { name: a.username, roles: a.roles, mustChange: a.mustChangePassword, from: 'local account' };
          } catch {
            const live = await p.sessions.listSessions({ username: name });
            const s = live.at(-1);
            return s ? { name: s.username, roles: s.roles, mustChange: s.mustChangePassword, from: `live ${s.authSource} session ${s.id}` } : undefined;
          }
        });
        if (!who) throw cli.usage(`no local account "${name}" and no live session of that user: give its roles with --roles`);
      }
      if (!who) {
        lines.push(['decision:', `needs ${need}: without one, 401 (API) or a redirect to ${config.gateway.loginUrl} (browser)`]);
        return finish(lines, true);
      }
      lines.push(['user:', `${who.name} (${who.from}; roles: ${who.roles.length ? who.roles.join(', ') : 'none'})`]);
      if (!hasRequiredRole(who.roles, d.roles)) {
        lines.push(['decision:', `deny (403): ${who.name} does not hold ${d.roles === 'any' ? 'any role' : `any of ${d.roles.join(', ')}`}`]);
        return finish(lines, false);
      }
      if (who.mustChange && !pathMatcher(config.gateway.passwordChangePaths)(path)) {
        lines.push(['decision:', 'deny until the password is changed (403 password_change_required; a browser is sent to log in)']);
        return finish(lines, false);
      }
      lines.push(['decision:', `allow: ${who.name} has ${need}`]);
      return finish(lines, true);
    });

  root
    .command('proxy-config <proxy>')
    .description('print a complete reverse-proxy configuration that protects an upstream with Portcullis (nginx, caddy, traefik, envoy)')
    .requiredOption('--listen <port>', 'port (or host:port) the proxy listens on')
    .requiredOption('--upstream <url>', 'the protected application, http(s)://host:port')
    .requiredOption('--portcullis <url>', 'Portcullis as the proxy reaches it, http(s)://host:port')
    .option('--insecure-upstream-tls', 'do not verify the TLS certificates of the upstream and of Portcullis (self-signed, testing only)')
    .action((proxy: string, opts: { listen: string; upstream: string; portcullis: string; insecureUpstreamTls?: boolean }, cmd: Command) => {
      if (!(PROXIES as readonly string[]).includes(proxy)) throw cli.usage(`unknown proxy "${proxy}": one of ${PROXIES.join(', ')}`);
      const config = cli.configFrom(cmd);
      const o = {
        listen: parseListen(opts.listen, cli),
        upstream: parseOrigin(opts.upstream, '--upstream', cli),
        portcullis: parseOrigin(opts.portcullis, '--portcullis', cli),
        insecureTls: opts.insecureUpstreamTls === true,
        headers: identityHeaderList(config.gateway.identityHeaders),
        sessionCookie: config.lxca.sessionCookie,
      };
      process.stdout.write(proxyConfig(proxy as Proxy, o));
    });
}

function finish(lines: [string, string][], allowed: boolean): void {
  const w = Math.max(...lines.map(([k]) => k.length));
  process.stdout.write(lines.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n') + '\n');
  if (!allowed) process.exitCode = 1;
}

function describeRule(r: CompiledRule): string {
  const s = r.source;
  const parts = [`host ${s.host.join(' | ')}`, `path ${s.path.join(' | ')}`, `methods ${s.methods ? s.methods.join(', ') : 'any'}`];
  const access = s.access === 'roles' ? `roles: ${(s.roles ?? []).join(', ')}` : s.access;
  return `${r.label} (${parts.join('; ')}) -> ${access}`;
}

export const PROXIES = ['nginx', 'caddy', 'traefik', 'envoy'] as const;
export type Proxy = (typeof PROXIES)[number];

export interface Origin {
  scheme: 'http' | 'https';
  host: string;
  port: number;
  /** host:port as written in URLs. */
  hostPort: string;
  url: string;
}

export interface ProxyConfigOptions {
  listen: { host: string | undefined; port: number };
  upstream: Origin;
  portcullis: Origin;
  insecureTls: boolean;
  /** Identity header names, as Portcullis sends them. */
  headers: string[];
  sessionCookie: string;
}

function parseListen(v: string, cli: CliContext): { host: string | undefined; port: number } {
  const m = /^(?:(\[[0-9a-f:.]+\]|[A-Za-z0-9.-]+):)?(\d{1,5})$/i.exec(v);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) throw cli.usage(`--listen must be a port or host:port (got "${v}")`);
  return { host: m[1], port };
}

function parseOrigin(v: string, flag: string, cli: CliContext): Origin {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw cli.usage(`${flag} must be a URL such as http://127.0.0.1:8080 (got "${v}")`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw cli.usage(`${flag} must be http:// or https://`);
  if ((u.pathname !== '/' && u.pathname !== '') || u.search || u.hash || u.username) throw cli.usage(`${flag} must be an origin only (scheme, host, port), without a path`);
  const scheme = u.protocol === 'https:' ? 'https' : 'http';
  const port = u.port ? Number(u.port) : scheme === 'https' ? 443 : 80;
  const host = u.hostname;
  const hostPort = `${host}:${port}`;
  return { scheme, host: host.replace(/^\[|\]$/g, ''), port, hostPort, url: `${scheme}://${hostPort}` };
}

export function identityHeaderList(n: IdentityHeaderNames): string[] {
  return [n.user, n.groups, n.name, n.email, n.sessionId, n.authSource].filter((x): x is string => x !== undefined);
}

/** Headers a client might send that the check must see (Envoy forwards only those it is told to). */
const CHECK_HEADERS = ['cookie', 'authorization', 'x-hm-authorization', 'x-auth-token', 'vmware-api-session-id', 'accept', 'x-requested-with', 'x-not-user-input', 'sec-fetch-site', 'x-forwarded-proto', 'x-forwarded-for'];

export function proxyConfig(proxy: Proxy, o: ProxyConfigOptions): string {
  switch (proxy) {
    case 'nginx':
      return nginxConfig(o);
    case 'caddy':
      return caddyConfig(o);
    case 'traefik':
      return traefikConfig(o);
    case 'envoy':
      return envoyConfig(o);
  }
}

const nginxVar = (h: string) => `$portcullis_${h.toLowerCase().replace(/-/g, '_')}`;

function nginxConfig(o: ProxyConfigOptions): string {
  const listen = o.listen.host ? `${o.listen.host}:${o.listen.port}` : String(o.listen.port);
  const tls = (x: Origin) =>
    x.scheme !== 'https'
      ? ''
      : o.insecureTls
        ? '\n      proxy_ssl_verify off;\n      proxy_ssl_server_name on;'
        : '\n      proxy_ssl_verify on;\n      proxy_ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt;\n      proxy_ssl_server_name on;';
  const sets = o.headers.map((h) => `      auth_request_set ${nginxVar(h)} $upstream_http_${h.toLowerCase().replace(/-/g, '_')};`).join('\n');
  const passes = o.headers.map((h) => `      proxy_set_header ${h} ${nginxVar(h)};`).join('\n');
  return `# nginx in front of ${o.upstream.url}, every request checked by Portcullis at ${o.portcullis.url}.
# Generated by: portcullis proxy-config nginx. Run it as is:
#   nginx -p DIR -c THIS_FILE        (DIR: a writable directory for the pid file and temp files)
# The identity headers (${o.headers.join(', ')}) reach the upstream only as Portcullis
# answered them: proxy_set_header replaces whatever the client sent under those names.
daemon off;
worker_processes auto;
pid nginx.pid;
error_log stderr warn;

events {
  worker_connections 1024;
}

http {
  access_log off;
  client_body_temp_path client_body_temp;
  proxy_temp_path proxy_temp;
  fastcgi_temp_path fastcgi_temp;
  uwsgi_temp_path uwsgi_temp;
  scgi_temp_path scgi_temp;
  server_tokens off;

  upstream portcullis {
    server ${o.portcullis.hostPort};
    keepalive 64;
  }
  upstream protected_app {
    server ${o.upstream.hostPort};
    keepalive 64;
  }

  server {
    listen ${listen};

    # The check itself: a subrequest nginx makes for every request below.
    location = /_portcullis_check {
      internal;
      proxy_pass ${o.portcullis.scheme}://portcullis/portcullis/auth/request;${tls(o.portcullis)}
      proxy_method GET;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
      proxy_set_header X-Original-Method $request_method;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }

    # The forward-auth endpoints are for this proxy only (^~: before the regular expression below).
    location ^~ /portcullis/auth/ {
      return 404;
    }

    # Portcullis's own pages and APIs (the login page /portcullis/login, the console /console/ and its assets),
    # unchecked: they authenticate by themselves.
    location ~ ^/(portcullis|console)/ {
      proxy_pass ${o.portcullis.scheme}://portcullis;${tls(o.portcullis)}
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }

    location / {
      auth_request /_portcullis_check;
${sets}
      auth_request_set $portcullis_location $upstream_http_location;
      auth_request_set $portcullis_retry_after $upstream_http_retry_after;
      error_page 401 = @portcullis_login;
      error_page 403 = @portcullis_denied;
      error_page 500 = @portcullis_unavailable;

${passes}
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass ${o.upstream.scheme}://protected_app;${tls(o.upstream)}
    }

    # nginx passes on only 401 and 403 from the check: a browser's 401 carries the login page in Location.
    location @portcullis_login {
      absolute_redirect off;
      if ($portcullis_location) {
        return 302 $portcullis_location;
      }
      add_header WWW-Authenticate 'Bearer realm="portcullis"' always;
      add_header Cache-Control no-store always;
      default_type "application/json; charset=utf-8";
      return 401 '{"error":"invalid_session","error_description":"No live session in this request: log in and send the session token."}\\n';
    }
    location @portcullis_denied {
      add_header Cache-Control no-store always;
      default_type "application/json; charset=utf-8";
      return 403 '{"error":"forbidden","error_description":"Access denied."}\\n';
    }
    # Portcullis unreachable or answering 5xx: fail closed, and say so.
    location @portcullis_unavailable {
      add_header Retry-After 2 always;
      add_header Cache-Control no-store always;
      default_type "application/json; charset=utf-8";
      return 503 '{"error":"unavailable","error_description":"The login service is unavailable; retry shortly."}\\n';
    }
  }
}
`;
}

function caddyConfig(o: ProxyConfigOptions): string {
  // Any Host (a site address with a host name would serve only that name); the address to bind, if given, separately.
  const site = `http://:${o.listen.port}`;
  const bind = o.listen.host ? `\tbind ${o.listen.host.replace(/^\[|\]$/g, '')}\n\n` : '';
  const insecure = (x: Origin, tabs: string) =>
    x.scheme === 'https' && o.insecureTls ? `\n${tabs}transport http {\n${tabs}\ttls_insecure_skip_verify\n${tabs}}` : '';
  const block = (x: Origin, tabs: string) => {
    const t = insecure(x, `${tabs}\t`);
    return t ? ` {${t}\n${tabs}}` : '';
  };
  return `# Caddy in front of ${o.upstream.url}, every request checked by Portcullis at ${o.portcullis.url}.
# Generated by: portcullis proxy-config caddy. Run it as is:
#   caddy run --config THIS_FILE --adapter caddyfile
# The identity headers are removed from the client's request first, then set from
# Portcullis's answer only (copy_headers).
{
\tadmin off
\tauto_https off
}

${site} {
${bind}\t# The forward-auth endpoints are for this proxy only (the longer path is matched first).
\thandle /portcullis/auth/* {
\t\trespond 404
\t}

\t# Portcullis's own pages and APIs (the login page /portcullis/login, the console /console/ and its assets),
\t# unchecked: they authenticate by themselves.
\t@portcullis_pages path /portcullis/* /console/*
\thandle @portcullis_pages {
\t\treverse_proxy ${o.portcullis.url}${block(o.portcullis, '\t\t')}
\t}

\thandle {
\t\troute {
${o.headers.map((h) => `\t\t\trequest_header -${h}`).join('\n')}
\t\t\tforward_auth ${o.portcullis.url} {
\t\t\t\turi /portcullis/auth/forward
\t\t\t\tcopy_headers ${o.headers.join(' ')}${insecure(o.portcullis, '\t\t\t\t')}
\t\t\t}
\t\t\treverse_proxy ${o.upstream.url}${block(o.upstream, '\t\t\t')}
\t\t}
\t}
}
`;
}

function traefikConfig(o: ProxyConfigOptions): string {
  const insecure = o.insecureTls ? '\n  serversTransports:\n    portcullis-insecure:\n      insecureSkipVerify: true' : '';
  const st = (x: Origin) => (x.scheme === 'https' && o.insecureTls ? '\n        serversTransport: portcullis-insecure' : '');
  const listen = o.listen.host ? `${o.listen.host}:${o.listen.port}` : `:${o.listen.port}`;
  return `# Traefik (v2 or v3) in front of ${o.upstream.url}, every request checked by Portcullis at ${o.portcullis.url}.
# Generated by: portcullis proxy-config traefik. This is the dynamic configuration; run:
#   traefik --entryPoints.web.address=${listen} --providers.file.filename=THIS_FILE
# authResponseHeaders: Traefik deletes these headers from the client's request and
# sets them from Portcullis's answer only. trustForwardHeader false: Traefik sets
# X-Forwarded-* itself instead of passing on the client's.
http:
  middlewares:
    portcullis:
      forwardAuth:
        address: "${o.portcullis.url}/portcullis/auth/forward"
        trustForwardHeader: false
        authResponseHeaders:
${o.headers.map((h) => `          - ${h}`).join('\n')}${o.portcullis.scheme === 'https' && o.insecureTls ? '\n        tls:\n          insecureSkipVerify: true' : ''}
  routers:
    # Portcullis's own pages and APIs (the login page, the console), unchecked; the forward-auth endpoints stay hidden.
    portcullis-pages:
      entryPoints: [web]
      rule: "(PathPrefix(\`/portcullis/\`) && !PathPrefix(\`/portcullis/auth/\`)) || PathPrefix(\`/console/\`)"
      priority: 200
      service: portcullis
    protected-app:
      entryPoints: [web]
      rule: "PathPrefix(\`/\`)"
      priority: 100
      middlewares: [portcullis]
      service: protected-app
  services:
    portcullis:
      loadBalancer:
        servers:
          - url: "${o.portcullis.url}"${st(o.portcullis)}
    protected-app:
      loadBalancer:
        servers:
          - url: "${o.upstream.url}"${st(o.upstream)}${insecure}
`;
}

function envoyConfig(o: ProxyConfigOptions): string {
  const exact = (names: string[], indent: string) => names.map((n) => `${indent}- exact: ${n.toLowerCase()}`).join('\n');
  const tlsSocket = (x: Origin) =>
    x.scheme !== 'https'
      ? ''
      : `
    transport_socket:
      name: envoy.transport_sockets.tls
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
        sni: ${x.host}${
          o.insecureTls
            ? ''
            : `
        common_tls_context:
          validation_context:
            trusted_ca: { filename: /etc/ssl/certs/ca-certificates.crt }`
        }`;
  const cluster = (name: string, x: Origin) => `  - name: ${name}
    type: STRICT_DNS
    connect_timeout: 2s
    load_assignment:
      cluster_name: ${name}
      endpoints:
      - lb_endpoints:
        - endpoint:
            address:
              socket_address: { address: ${x.host}, port_value: ${x.port} }${tlsSocket(x)}`;
  return `# Envoy in front of ${o.upstream.url}, every request checked by Portcullis at ${o.portcullis.url}.
# Generated by: portcullis proxy-config envoy. Run it as is:
#   envoy -c THIS_FILE
# ext_authz sets the allowed upstream headers from Portcullis's answer, overwriting the
# client's: Portcullis always sends every identity header (empty when anonymous).
static_resources:
  listeners:
  - name: portcullis_protected
    address:
      socket_address: { address: ${o.listen.host ?? '0.0.0.0'}, port_value: ${o.listen.port} }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: portcullis_protected
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: /portcullis/auth/ }
                direct_response: { status: 404 }
                typed_per_filter_config:
                  envoy.filters.http.ext_authz:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute
                    disabled: true
              - match: { prefix: /portcullis/ }
                route: { cluster: portcullis }
                typed_per_filter_config:
                  envoy.filters.http.ext_authz:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute
                    disabled: true
              - match: { prefix: /console/ }
                route: { cluster: portcullis }
                typed_per_filter_config:
                  envoy.filters.http.ext_authz:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute
                    disabled: true
              - match: { prefix: / }
                route: { cluster: protected_app }
          http_filters:
          - name: envoy.filters.http.ext_authz
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz
              transport_api_version: V3
              failure_mode_allow: false
              http_service:
                server_uri:
                  uri: ${o.portcullis.url}
                  cluster: portcullis
                  timeout: 2s
                path_prefix: /portcullis/auth/ext-authz
                authorization_request:
                  allowed_headers:
                    patterns:
${exact(CHECK_HEADERS, '                    ')}
                authorization_response:
                  allowed_upstream_headers:
                    patterns:
${exact(o.headers, '                    ')}
                  allowed_client_headers:
                    patterns:
${exact(['location', 'www-authenticate', 'content-type', 'retry-after', 'cache-control'], '                    ')}
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
${cluster('portcullis', o.portcullis)}
${cluster('protected_app', o.upstream)}
`;
}
