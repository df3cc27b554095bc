import type { FastifyInstance } from 'fastify';
import type { Config } from './config.js';
import type { Logger } from './core/logger.js';
import { hcxDialect } from './dialects/hcx/routes.js';
import { lxcaDialect } from './dialects/lxca/routes.js';
import { adminDialect } from './dialects/admin/routes.js';
import { gatewayDialect } from './dialects/gateway/routes.js';
import { redfishDialect } from './dialects/redfish/routes.js';
import { vcenterDialect } from './dialects/vcenter/routes.js';
import { consoleDialect } from './dialects/console/routes.js';
import type { Dialect, DialectDeps } from './dialects/types.js';
import { buildApp } from './http/app.js';
import type { Portcullis } from './service.js';
import { throttledSources } from './core/sources.js';
import type { BackendHealth } from './adapters/store/open.js';
import type { Server as HttpsServer } from 'node:https';
import { tlsReloader, type TlsReloader } from './runtime/tls-reload.js';
import type { MetricsHandle } from './metrics/start.js';
import { tlsFiles, tlsMaterial } from './tls.js';
import { packageRoot } from './adapters/identity/pam/helper-path.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TESTING_PREFIX, newControlToken, registerClientTesting } from './testing/http.js';
import { writeControlFile } from './testing/control-file.js';
import { Recorder } from './testing/recorder.js';
import { loadScenario } from './testing/scenario.js';

export function enabledDialects(config: Config, deps: DialectDeps): Dialect[] {
  // The gateway before the admin API (whose /portcullis/ it narrows); the last dialect answers for paths no one owns.
  const list: Dialect[] = [...(config.gateway.enabled ? [gatewayDialect(deps)] : []), adminDialect(deps)];
  if (config.hcx.enabled) list.push(hcxDialect(deps));
  if (config.redfish.enabled) list.push(redfishDialect(deps));
  if (config.vcenter.enabled) list.push(vcenterDialect(deps));
  if (config.lxca.enabled) list.push(lxcaDialect(deps));
  if (config.web.enabled) list.push(consoleDialect(deps));
  return list;
}

/** The package's root and version, for the API documents and `portcullis --version` (read once). */
export const PACKAGE = (() => {
  const root = packageRoot();
  let version = '0.0.0';
  try {
    if (root) version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    // a damaged package.json only costs the documents their version
  }
  return { version, root };
})();

/** Assembles the HTTP app on a Portcullis core: the shared piece of `serve` and the tests. */
export function createApp(p: Portcullis, logger: Logger, tls?: { key: string; cert: string }, testing?: { controlToken: string; recorder?: Recorder | undefined }): FastifyInstance {
  const deps: DialectDeps = {
    sessions: p.sessions,
    accounts: p.accounts,
    settings: p.settings,
    audit: p.audit,
    secondFactors: p.secondFactors,
    throttle: throttledSources(p.sources),
    identity: p.identity,
    config: p.config,
    clock: p.clock,
    isAdministrator: p.isAdministrator,
  };
  const app = buildApp({ deps, dialects: enabledDialects(p.config, deps), logger, tls, fastPath: !p.testing, packageInfo: PACKAGE });
  if (p.testing) {
    registerClientTesting(app, {
      testing: p.testing,
      sessions: p.sessions,
      config: p.config,
      recorder: testing?.recorder,
      isAdministrator: p.isAdministrator,
      rendererFor: (req) => app.rendererFor(req),
      controlToken: testing?.controlToken ?? newControlToken(),
    });
  }
  registerHealth(app, p, logger);
  return app;
}

/** Longest /readyz waits for the backends before it answers "not ready". */
const READY_TIMEOUT_MS = 2500;

/**
 * Probes for load balancers and orchestrators, outside every dialect:
 * GET /healthz (the process serves) and GET /readyz (every backend answers now).
 * Backend errors are logged, not shown: the probes need no authentication.
 */
function registerHealth(app: FastifyInstance, p: Portcullis, logger: Logger): void {
  app.get('/healthz', async (_req, reply) => reply.code(200).send({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<BackendHealth[]>((resolve) => {
      timer = setTimeout(() => resolve([{ backend: p.stores.kind, ok: false, error: `no answer within ${READY_TIMEOUT_MS} ms` }]), READY_TIMEOUT_MS);
    });
    const backends = await Promise.race([p.stores.health(), timeout]).finally(() => clearTimeout(timer));
    const ready = backends.every((b) => b.ok);
    if (!ready) logger.warn({ event: 'server.not_ready', backends }, 'a backend does not answer');
    return reply.code(ready ? 200 : 503).send({
      status: ready ? 'ready' : 'not ready',
      store: p.stores.kind,
      backends: backends.map((b) => ({ backend: b.backend, ok: b.ok })),
      ...(p.testing && { clientTesting: true }),
    });
  });
}

/** Client-testing mode at start: the control token, the scenario (validated before listening) and the recorder. */
function startClientTesting(p: Portcullis, logger: Logger): { controlToken: string; recorder: Recorder | undefined } {
  const cfg = p.config.clientTesting;
  if (cfg.scenario) {
    const scenario = loadScenario(cfg.scenario);
    p.testing!.load(scenario);
    logger.info({ event: 'testing.scenario_loaded', file: cfg.scenario, steps: scenario.steps.length }, 'scenario loaded');
  }
  return { controlToken: newControlToken(), recorder: cfg.record ? new Recorder(cfg.record) : undefined };
}

export interface RunningServer {
  app: FastifyInstance;
  url: string;
  /** The scrape URL when metrics are enabled. */
  metricsUrl?: string;
  /** Rereads the TLS pair (SIGHUP); the old pair stays when the new one is bad. Undefined on plain HTTP. */
  tls?: TlsReloader;
  /**
   * Stops gracefully: no new connections, idle ones closed, requests in flight
   * answered (their connections then close) within `lifecycle.drainTimeoutMs`,
   * after which what is left is cut. Stores are not closed (Portcullis.close does).
   */
  stop(): Promise<void>;
}

/** Starts serving: TLS material, first admin, expiry sweeps, listening socket. */
export async function startServer(p: Portcullis, logger: Logger, out: (line: string) => void): Promise<RunningServer> {
  const { config } = p;
  const tls = await tlsMaterial(config, logger);
  // The decoy hash (the argon2 verify an unknown user's login pays) is made off the event loop while the routes are built;
  // a login that comes before it is ready waits for the same promise.
  const warm = p.local.warmUp();
  warm.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile
  const metricsHandle: MetricsHandle | undefined = config.metrics.enabled
    ? await (await import('./metrics/start.js')).startMetrics(p, logger) // prom-client is loaded only when metrics are on
    : undefined;
  const testing = p.testing ? startClientTesting(p, logger) : undefined;
  // Returning users are known before the first of them logs in again: a restart under a flood does not put them behind it.
  try {
    const known = await p.loadKnownClients();
    logger.info({ event: 'server.known_clients', count: known }, 'known clients loaded');
  } catch (e) {
    logger.warn({ event: 'server.known_clients_failed', err: e instanceof Error ? e.message : String(e) }, 'could not load known clients; they are learned at their next login');
  }
  const app = createApp(p, logger, tls, testing);
  const sweep = setInterval(() => {
    p.sweep().catch((e: unknown) => logger.warn({ event: 'session.sweep_failed', err: String(e) }, 'sweep failed'));
  }, config.session.sweepIntervalSeconds * 1000);
  sweep.unref();
  await app.listen({ host: config.listen.host, port: config.listen.port });
  await warm;
  // Serving: the validators the first requests did not need are compiled a moment later, one route per turn
  // (the first turn loads Ajv, ~40 ms: the session checks a restart meets first are not kept waiting behind it).
  app.validators.compileAll(false, 300);
  // Only once the port is ours: a failed start must not swallow the one-time password.
  const first = await p.accounts.ensureFirstAdmin();
  if (first) {
    out(
      [
        '',
        'Portcullis created the first administrator account. This password is shown once and never stored in clear text:',
        `    username: ${first.username}`,
        `    password: ${first.password}`,
        'It must be changed at first login (portcullis user passwd admin).',
        '',
      ].join('\n'),
    );
  }
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.listen.port;
  const host = config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host;
  const url = `${tls ? 'https' : 'http'}://${host}:${port}`;
  const reloader = tls ? tlsReloader(app.server as unknown as HttpsServer, tlsFiles(config), tls, logger, { watch: config.lifecycle.watchTls }) : undefined;
  logger.info({ event: 'server.listening', url, dataDir: config.dataDir, tls: Boolean(tls) }, 'portcullis is serving');
  if (testing) {
    const file = writeControlFile(config.dataDir, url, testing.controlToken, tls?.cert);
    out(
      [
        '',
        '*** CLIENT-TESTING MODE: fault rules, session controls and a clock offset are ON. Never run this in production. ***',
        `    controls: ${url}${TESTING_PREFIX} (an administrator's session, or the control token in ${file})`,
        ...(config.clientTesting.scenario ? [`    scenario: ${config.clientTesting.scenario}`] : []),
        ...(config.clientTesting.record ? [`    recording to: ${config.clientTesting.record} (secrets masked)`] : []),
        '',
      ].join('\n'),
    );
    logger.warn({ event: 'server.client_testing', url, scenario: config.clientTesting.scenario, record: config.clientTesting.record }, 'client-testing mode is on');
  }
  return {
    app,
    url,
    ...(metricsHandle ? { metricsUrl: metricsHandle.url } : {}),
    ...(reloader ? { tls: reloader } : {}),
    async stop() {
      clearInterval(sweep);
      reloader?.close();
      const drainMs = config.lifecycle.drainTimeoutMs;
      const cut = setTimeout(() => {
        logger.warn({ event: 'server.drain_timeout', drainTimeoutMs: drainMs }, 'requests still running after the drain timeout: closing their connections');
        app.server.closeAllConnections();
      }, drainMs);
      try {
        await app.close();
      } finally {
        clearTimeout(cut);
      }
      await metricsHandle?.close();
      testing?.recorder?.close();
    },
  };
}
