import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MetricsConfig } from '../config/metrics.js';
import type { Logger } from '../core/logger.js';
import type { PrometheusMetrics } from './prometheus.js';

export interface MetricsListener {
  url: string;
  close(): Promise<void>;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** The configured scrape token, read once (from the file when given); undefined = none required. */
export function metricsToken(cfg: MetricsConfig): string | undefined {
  if (cfg.bearerToken !== undefined) return cfg.bearerToken;
  if (cfg.bearerTokenFile === undefined) return undefined;
  let token: string;
  try {
    token = (readFileSync(cfg.bearerTokenFile, 'utf8').split(/\r?\n/)[0] ?? '').trim();
  } catch (e) {
    throw new Error(`metrics.bearerTokenFile: cannot read ${cfg.bearerTokenFile}: ${(e as Error).message}`);
  }
  if (token.length < 16) throw new Error(`metrics.bearerTokenFile: the token in ${cfg.bearerTokenFile} must be at least 16 characters`);
  return token;
}

/**
 * The scrape endpoint on its own plain-HTTP listener: `GET /metrics` (text format),
 * nothing else. With a token, a scrape without the right `Authorization: Bearer`
 * gets 401; both sides are hashed first so the comparison is constant-time and
 * length-blind.
 */
export async function startMetricsListener(m: PrometheusMetrics, cfg: MetricsConfig, logger: Logger): Promise<MetricsListener> {
  const token = metricsToken(cfg);
  const want = token === undefined ? undefined : digest(token);
  const server: Server = createServer((req, res) => {
    const send = (status: number, body: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...headers });
      res.end(body);
    };
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path !== '/metrics') return send(404, 'not found: the metrics are at /metrics\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed: use GET\n', { allow: 'GET, HEAD' });
    if (want) {
      const auth = req.headers.authorization ?? '';
      const m2 = /^Bearer[ \t]+(\S+)\s*$/i.exec(auth);
      if (!m2 || !timingSafeEqual(digest(m2[1]!), want)) return send(401, 'unauthorized: send Authorization: Bearer <metrics.bearerToken>\n', { 'www-authenticate': 'Bearer realm="portcullis-metrics"' });
    }
    m.metrics().then(
      (text) => send(200, req.method === 'HEAD' ? '' : text, { 'content-type': m.contentType }),
      (e: unknown) => {
        logger.error({ event: 'metrics.collect_failed', err: e instanceof Error ? e.message : String(e) }, 'could not collect the metrics');
        send(500, 'the metrics could not be collected (see the service log)\n');
      },
    );
  });
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(cfg.port, cfg.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.address.includes(':') ? `[${addr.address}]` : addr.address;
  const url = `http://${host}:${addr.port}/metrics`;
  logger.info({ event: 'metrics.listening', url, token: want !== undefined }, 'metrics are served');
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
