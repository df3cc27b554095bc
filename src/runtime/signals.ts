import type { Config } from '../config.js';
import type { Logger } from '../core/logger.js';
import type { RunningServer } from '../server.js';

/** The logger `serve` runs with: the core's slice, plus a level that can change and a flush. */
export interface ServiceLogger extends Logger {
  level: string;
  flush?(cb?: (err?: Error) => void): void;
}

/** Dotted keys whose values differ between two configurations (values never returned: some are secrets). */
export function changedKeys(a: unknown, b: unknown, prefix = ''): string[] {
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isObj(a) && isObj(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => changedKeys(a[k], b[k], prefix ? `${prefix}.${k}` : k));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [prefix || '(top level)'];
}

/**
 * SIGHUP: rereads the configuration file. The log level changes at once and the
 * TLS pair is reloaded; every other changed key is named in the log as needing a
 * restart (nothing else is applied half-way). A file that no longer parses is
 * refused and everything kept.
 */
export function reload(running: { config: Config; server: RunningServer; logger: ServiceLogger }, readConfig: () => Config): { applied: string[]; restartNeeded: string[] } {
  const { logger, server } = running;
  let next: Config;
  try {
    next = readConfig();
  } catch (e) {
    logger.error({ event: 'config.reload_failed', err: (e as Error).message }, 'SIGHUP: the configuration is not valid; nothing was changed');
    server.tls?.reload('SIGHUP');
    return { applied: [], restartNeeded: [] };
  }
  const applied: string[] = [];
  if (next.log.level !== running.config.log.level) {
    const from = running.config.log.level;
    logger.level = next.log.level;
    running.config.log.level = next.log.level;
    applied.push('log.level');
    logger.info({ event: 'log.level_changed', from, to: next.log.level }, 'log level changed');
  }
  const restartNeeded = changedKeys(running.config, next).filter((k) => k !== 'log.level');
  if (restartNeeded.length > 0) {
    logger.warn({ event: 'config.restart_needed', keys: restartNeeded }, `SIGHUP: these changes take effect at the next restart: ${restartNeeded.join(', ')}`);
  }
  server.tls?.reload('SIGHUP');
  logger.info({ event: 'config.reloaded', applied, restartNeeded: restartNeeded.length }, 'SIGHUP handled');
  return { applied, restartNeeded };
}

/**
 * What `serve` does on signals. SIGTERM and SIGINT: graceful stop (stop accepting,
 * finish what is in flight within lifecycle.drainTimeoutMs, write pending "last
 * accessed" times, close the stores), then exit 0; exit 1 if the stop itself fails
 * or overruns by far. SIGHUP: {@link reload}.
 */
export function handleSignals(opts: {
  config: Config;
  server: RunningServer;
  logger: ServiceLogger;
  readConfig: () => Config;
  /** After the server stopped: flush and close the stores (Portcullis.close) and anything else. */
  closeRest: () => Promise<void>;
  /** Also on SIGHUP (e.g. reopen the audit files after rotation). */
  onHangup?: () => void;
  exit?: (code: number) => void;
}): void {
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const { logger } = opts;
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      logger.info({ event: 'server.stopping', signal }, 'already stopping');
      return;
    }
    stopping = true;
    const started = Date.now();
    logger.info({ event: 'server.stopping', signal, drainTimeoutMs: opts.config.lifecycle.drainTimeoutMs }, 'stopping: no new connections, finishing requests in flight');
    const watchdog = setTimeout(() => {
      logger.error({ event: 'server.stop_overrun' }, 'the stop did not finish in time; exiting');
      finish(1);
    }, opts.config.lifecycle.drainTimeoutMs + 15_000);
    watchdog.unref();
    const finish = (code: number) => {
      clearTimeout(watchdog);
      if (logger.flush) logger.flush(() => exit(code));
      else exit(code);
    };
    opts.server
      .stop()
      .then(() => opts.closeRest())
      .then(
        () => {
          logger.info({ event: 'server.stopped', signal, ms: Date.now() - started }, 'stopped: requests answered, pending writes flushed, stores closed');
          finish(0);
        },
        (e: unknown) => {
          logger.error({ event: 'server.stop_failed', err: e instanceof Error ? e.message : String(e) }, 'the stop failed');
          finish(1);
        },
      );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    if (stopping) return;
    opts.onHangup?.();
    reload({ config: opts.config, server: opts.server, logger }, opts.readConfig);
  });
}
