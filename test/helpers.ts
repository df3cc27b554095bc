import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { loadConfig, type Config } from '../src/config.js';
import { silentLogger, type Logger } from '../src/core/logger.js';
import { ManualClock, type Clock } from '../src/ports/clock.js';
import { createApp } from '../src/server.js';
import { openPortcullis, type Portcullis } from '../src/service.js';
import type { SqliteStore } from '../src/adapters/store/sqlite/store.js';
import { checkDrift, DriftChecker } from './openapi/drift.js';

/** A logger that keeps every line, so tests can assert what was (and was not) logged. */
export class RecordingLogger implements Logger {
  readonly lines: { level: string; obj: object; msg?: string | undefined }[] = [];
  info(obj: object, msg?: string) { this.lines.push({ level: 'info', obj, msg }); }
  warn(obj: object, msg?: string) { this.lines.push({ level: 'warn', obj, msg }); }
  error(obj: object, msg?: string) { this.lines.push({ level: 'error', obj, msg }); }
  debug(obj: object, msg?: string) { this.lines.push({ level: 'debug', obj, msg }); }
  text(): string {
    return this.lines.map((l) => JSON.stringify({ ...l.obj, msg: l.msg })).join('\n');
  }
}

export function tempDir(prefix = 'portcullis-test-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Cheap argon2id parameters for tests that are not about hashing cost. */
export const FAST_ARGON2 = { memoryKiB: 8192, iterations: 1, parallelism: 1 };

export interface Harness {
  config: Config;
  p: Portcullis & { store: SqliteStore };
  app: FastifyInstance;
  clock: Clock;
  logger: RecordingLogger;
  /** Checks every `app.inject` response against the dialects' OpenAPI documents (docs/openapi.md); not installed in client-testing mode. */
  drift: DriftChecker;
  close(): Promise<void>;
}

/**
 * A full Portcullis on a real SQLite file in a temp dir, driven through `app.inject`
 * (no socket). `overrides` are dotted config keys, as on the command line.
 */
export async function harness(opts: { overrides?: Record<string, unknown>; clock?: Clock } = {}): Promise<Harness> {
  const dir = tempDir();
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir: dir.path,
      'argon2.memoryKiB': FAST_ARGON2.memoryKiB,
      'argon2.iterations': FAST_ARGON2.iterations,
      // Tests that are not about the concurrency limit log one user in many times; those about it set it.
      'accountSettings.MaxConcurrentSessions': 0,
      ...opts.overrides,
    },
  });
  const logger = new RecordingLogger();
  const clock = opts.clock ?? new ManualClock(Date.UTC(2026, 10, 23, 9, 0, 0));
  const opened = await openPortcullis(config, logger, { clock, touchFlushMs: 0 });
  // The harness runs on SQLite: tests may look at the file through `p.store`.
  const p = Object.assign(opened, { store: opened.stores.durable as SqliteStore });
  const app = createApp(p, logger);
  await app.ready();
  // Every response a test receives is held against the documents: they cannot drift from the code.
  // Not in client-testing mode, whose fault rules answer what they are told to (any status, dropped or cut bodies).
  const drift = opened.testing ? new DriftChecker(app) : checkDrift(app);
  return {
    config,
    p,
    app,
    clock,
    logger,
    drift,
    async close() {
      await app.close();
      await p.close();
      dir.remove();
    },
  };
}

/** Creates a local account with a known password. */
export async function addUser(h: Harness, username: string, password: string, roles: string[], extra: { mustChangePassword?: boolean; organizations?: string[] } = {}) {
  return h.p.accounts.create({ username, password, roles, ...extra });
}

export const ADMIN_ROLES = ['System Administrator', 'Enterprise Administrator'];

/** A loopback port that was free a moment ago (for servers started as child processes). */
export async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const addr = srv.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  srv.close();
  await once(srv, 'close');
  return port;
}

/** Opens the data directory of a config file in this process, runs `fn`, and closes it (what the CLI does per command). */
export async function withPortcullis<T>(configFile: string, fn: (p: Portcullis) => Promise<T>): Promise<T> {
  const p = await openPortcullis(loadConfig({ file: configFile, env: {} }), silentLogger, { touchFlushMs: 0 });
  try {
    return await fn(p);
  } finally {
    await p.close();
  }
}
