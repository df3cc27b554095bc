import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../../config.js';
import { ConfigError } from '../../config.js';
import type { Logger } from '../../core/logger.js';
import type {
  AccountStore,
  AuditStore,
  LoginGuardStore,
  PasswordHistoryStore,
  SecondFactorStore,
  SessionLimitStore,
  SessionStore,
  SettingsStore,
} from '../../ports/store.js';
// PostgreSQL and Redis are imported when configured (their clients cost ~0.2 s of start otherwise).
import type { RedisStore } from './redis/store.js';
import { SqliteStore } from './sqlite/store.js';

export const DATABASE_FILE = 'portcullis.db';

/** The durable side: what must be kept and queried. */
export type DurableStore = AccountStore & PasswordHistoryStore & SettingsStore & AuditStore & SecondFactorStore;
/** The hot side: what is read on every request and expires. */
export type HotStore = SessionStore & SessionLimitStore & LoginGuardStore;

export interface BackendHealth {
  backend: string;
  ok: boolean;
  error?: string;
}

/** The stores as configured: one SQLite file, PostgreSQL, or PostgreSQL with Redis. */
export interface StoreSet {
  durable: DurableStore;
  hot: HotStore;
  /** e.g. "sqlite (/var/lib/portcullis/portcullis.db)", "postgres + redis": for operators (CLI, logs). */
  readonly description: string;
  /** The engines alone, without paths or hosts: what unauthenticated probes may show. */
  readonly kind: 'sqlite' | 'postgres' | 'postgres + redis';
  /** The schema version, in words ("schema version 2", "schema version 1 (migrated from 0)"). */
  schema(): Promise<string>;
  /** Whether each backend answers now (bounded by its timeouts). */
  health(): Promise<BackendHealth[]>;
  /** Writes what adapters keep behind (pending "last accessed" times). */
  flush(): Promise<void>;
  /** Sessions held by the session store (expired ones until the sweep): for the metrics. */
  countSessions(): Promise<number>;
  close(): Promise<void>;
}

export interface OpenStoreOptions {
  /** How long touches wait in memory; default 1000 ms (SQLite) or cluster.touchFlushMs. 0 = only on flush/close. */
  touchFlushMs?: number;
  /** false: refuse an out-of-date PostgreSQL schema instead of migrating (default: config.postgres.autoMigrate). */
  migrate?: boolean;
}

function withPasswordFile(url: string, file: string | undefined, what: string): string {
  if (!file) return url;
  let password: string;
  try {
    password = readFileSync(file, 'utf8').split(/\r?\n/)[0] ?? '';
  } catch (e) {
    throw new ConfigError(`cannot read ${what}.passwordFile ${file}: ${(e as Error).message}`);
  }
  // Sentinel/cluster lists are not WHATWG-parseable: put the password in front of the host list by hand.
  const m = /^([a-z-]+:\/\/)(?:[^@/]*@)?(.*)$/i.exec(url);
  if (!m) return url;
  const user = /^[a-z-]+:\/\/([^:@/]+)(?::[^@/]*)?@/i.exec(url)?.[1] ?? '';
  return `${m[1]}${user}:${encodeURIComponent(password)}@${m[2]}`;
}

/** Opens the configured stores (connecting and migrating as needed); throws ConfigError or CoreError unavailable. */
export async function openStores(config: Config, logger: Logger, opts: OpenStoreOptions = {}): Promise<StoreSet> {
  const sessions = config.sessions ?? config.store;
  if (config.store === 'sqlite') {
    const path = join(config.dataDir, DATABASE_FILE);
    const store = new SqliteStore({ path, touchFlushMs: opts.touchFlushMs ?? 1000 });
    return {
      durable: store,
      hot: store,
      description: `sqlite (${path})`,
      kind: 'sqlite',
      schema: async () => `schema version ${String(store.db.pragma('user_version', { simple: true }))}`,
      health: async () => {
        try {
          store.db.prepare('SELECT 1').get();
          return [{ backend: 'sqlite', ok: true }];
        } catch (e) {
          return [{ backend: 'sqlite', ok: false, error: (e as Error).message }];
        }
      },
      flush: async () => store.flushTouches(),
      countSessions: () => store.countSessions(),
      close: async () => store.close(),
    };
  }

  const touchFlushMs = opts.touchFlushMs ?? config.cluster.touchFlushMs;
  const { PostgresStore } = await import('./postgres/store.js');
  const pg = await PostgresStore.open({
    url: withPasswordFile(config.postgres.url!, config.postgres.passwordFile, 'postgres'),
    poolMax: config.postgres.poolMax,
    tls: config.postgres.tls ?? false,
    connectTimeoutMs: config.postgres.connectTimeoutMs,
    statementTimeoutMs: config.postgres.statementTimeoutMs,
    touchFlushMs,
    cacheMs: config.cluster.sessionCacheMs,
    migrate: opts.migrate ?? config.postgres.autoMigrate,
    onIdleError: (e) => logger.warn({ event: 'store.postgres.idle_error', err: e.message }, 'a pooled PostgreSQL connection failed'),
  });
  let redis: RedisStore | undefined;
  if (sessions === 'redis') {
    let lastState = '';
    try {
      const { RedisStore } = await import('./redis/store.js');
      redis = await RedisStore.open({
        url: withPasswordFile(config.redis.url!, config.redis.passwordFile, 'redis'),
        prefix: config.redis.prefix,
        tls: config.redis.tls ?? false,
        connectTimeoutMs: config.redis.connectTimeoutMs,
        commandTimeoutMs: config.redis.commandTimeoutMs,
        touchFlushMs,
        cacheMs: config.cluster.sessionCacheMs,
        onEvent: (event, detail) => {
          // One line per change of state, not one per reconnect attempt.
          if (event === lastState) return;
          lastState = event;
          if (event === 'ready') logger.info({ event: 'store.redis.ready' }, 'Redis connection ready');
          else logger.warn({ event: `store.redis.${event}`, err: detail }, 'Redis connection lost');
        },
      });
    } catch (e) {
      await pg.close();
      throw e;
    }
    const durability = await redis.durability();
    if (durability === 'off' || durability === 'no') {
      logger.warn(
        { event: 'store.redis.not_durable', appendfsync: durability },
        'Redis does not persist every write (appendonly no or appendfsync no): sessions may be lost if Redis restarts; set appendonly yes and appendfsync always',
      );
    }
  }
  const r = redis;
  const hot: HotStore = r ?? pg;
  return {
    durable: pg,
    hot,
    description: r ? 'postgres + redis' : 'postgres',
    kind: r ? 'postgres + redis' : 'postgres',
    schema: async () => {
      const [from, to] = pg.schemaChange;
      return from === to ? `schema version ${to}` : `schema version ${to} (migrated from ${from})`;
    },
    health: async () => {
      const probe = async (backend: string, ping: () => Promise<void>): Promise<BackendHealth> => {
        try {
          await ping();
          return { backend, ok: true };
        } catch (e) {
          return { backend, ok: false, error: (e as Error).message };
        }
      };
      return Promise.all([probe('postgres', () => pg.ping()), ...(r ? [probe('redis', () => r.ping())] : [])]);
    },
    countSessions: () => (r ? r.countSessions() : pg.countSessions()),
    flush: async () => {
      await pg.flushTouches();
      await r?.flushTouches();
    },
    close: async () => {
      await Promise.all([pg.close(), r?.close()]);
    },
  };
}
