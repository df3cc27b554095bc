import { readFileSync } from 'node:fs';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import {
  LOCKED_UNTIL_CLEARED,
  type FailureRule,
  type FailureEntry,
  type FailureScope,
  type LoginSourceEntry,
  type FailureState,
  type LoginGuardStore,
  type SessionLimitStore,
  type SessionRecord,
  type SessionStore,
} from '../../../ports/store.js';
import { HotSessionCache } from '../hot-cache.js';
import { PendingTouches } from '../pending-touches.js';
import { readFailure, sessionDeadline } from '../rules.js';
import { guarded } from '../unavailable.js';
import { migrateRedis, type MigrationClient } from './migrate.js';
import * as lua from './scripts.js';

export interface RedisStoreOptions {
  /**
   * redis://[user:password@]host:port[/db], rediss:// for TLS,
   * redis-sentinel://[password@]host:port[,host:port...]/masterName[/db] for Sentinel,
   * redis-cluster://[password@]host:port[,host:port...] for Cluster.
   */
  url: string;
  /** Key prefix; default "{portcullis}:" (the hash tag keeps every key in one Cluster slot, so scripts stay atomic). */
  prefix?: string;
  /** TLS: CA file to verify the server with (rediss:// uses the system CAs without it). */
  tls?: { caFile?: string | undefined; rejectUnauthorized?: boolean | undefined } | false;
  /** How long to wait for a connection; default 2000 ms. */
  connectTimeoutMs?: number;
  /** Longest a command may take before the call fails as unavailable; default 1000 ms. */
  commandTimeoutMs?: number;
  /** How long touches may wait in memory before they are written; default 1000 ms. 0 = only on flush. */
  touchFlushMs?: number;
  /** Real time a session read from Redis may be served from memory; default 500 ms (0 = never cached). */
  cacheMs?: number;
  /** Sessions kept in memory; default 50 000. */
  hotSessions?: number;
  /** Extra life given to keys past their deadline, so Redis's own expiry never ends a session the sweeps would keep; default 60 s. */
  graceMs?: number;
  /** Told when the connection fails or comes back. */
  onEvent?: (event: 'error' | 'ready' | 'end', detail?: string) => void;
}

type Scripts = {
  [K in
    | 'pcCreate'
    | 'pcTouch'
    | 'pcGet'
    | 'pcGetMany'
    | 'pcDelete'
    | 'pcDeleteUser'
    | 'pcExpired'
    | 'pcFail'
    | 'pcClearFail'
    | 'pcRemember'
    | 'pcPrune'
    | 'pcMigrateSessions'
    | 'pcMergeCounters'
    | 'pcMoveSource'
    | 'pcListFail']: (
    ...args: (string | number)[]
  ) => Promise<unknown>;
};
type Client = (Redis | Cluster) & Scripts;

const SCRIPTS: Record<keyof Scripts, string> = {
  pcCreate: lua.CREATE_SESSION,
  pcTouch: lua.TOUCH_SESSIONS,
  pcGet: lua.GET_SESSION,
  pcGetMany: lua.GET_SESSIONS,
  pcDelete: lua.DELETE_SESSION,
  pcDeleteUser: lua.DELETE_USER_SESSIONS,
  pcExpired: lua.DELETE_EXPIRED,
  pcFail: lua.RECORD_FAILURE,
  pcClearFail: lua.CLEAR_FAILURE,
  pcRemember: lua.REMEMBER_SOURCE,
  pcPrune: lua.PRUNE_GUARD,
  pcMigrateSessions: lua.MIGRATE_SESSIONS,
  pcMergeCounters: lua.MERGE_COUNTERS,
  pcMoveSource: lua.MOVE_SOURCE,
  pcListFail: lua.LIST_FAILURES,
};

/** Immutable part of a session as stored in the hash's `r` field. */
type StoredSession = Omit<SessionRecord, 'tokenHash' | 'lastAccessedAt'> & { tokenHash: string };

const BATCH = 500;

/**
 * Hot, expiring state in Redis: sessions (with a per-user index for "log out
 * everywhere" and the concurrency limit), failure counters and login sources.
 * Every multi-key step is one Lua script, atomic on the server; so failures
 * counted from any number of nodes count exactly.
 *
 * Commands fail at once while disconnected (no offline queue) and after
 * `commandTimeoutMs`; both become CoreError unavailable, so a check fails closed
 * with 503 instead of hanging. The client reconnects by itself.
 *
 * Durability is the server's: run Redis with `appendonly yes` and
 * `appendfsync always` (or `everysec`, accepting up to a second of sessions lost
 * when Redis itself crashes). {@link RedisStore.durability} reports the setting.
 */
export class RedisStore implements SessionStore, SessionLimitStore, LoginGuardStore {
  readonly client: Client;
  private readonly prefix: string;
  private readonly grace: number;
  private readonly pendingTouches: PendingTouches;
  private readonly cache: HotSessionCache;
  private closed = false;
  /** The connection's latest error, to say why a start failed (a certificate, a refused connection). */
  private lastError: string | undefined;
  /** Layout version before and after open() (README "Identities"; equal when nothing was migrated). */
  schemaChange: [number, number] = [0, 0];

  private constructor(opts: RedisStoreOptions) {
    this.prefix = opts.prefix ?? '{portcullis}:';
    this.grace = opts.graceMs ?? 60_000;
    this.client = connect(opts);
    for (const [name, lua] of Object.entries(SCRIPTS)) this.client.defineCommand(name, { numberOfKeys: 0, lua });
    this.client.on('error', (e: Error) => {
      this.lastError = e.message;
      opts.onEvent?.('error', e.message);
    });
    this.client.on('ready', () => opts.onEvent?.('ready'));
    this.client.on('end', () => opts.onEvent?.('end'));
    this.cache = new HotSessionCache(opts.cacheMs ?? 500, opts.hotSessions ?? 50_000);
    this.pendingTouches = new PendingTouches((batch) => this.writeTouches(batch)).every(opts.touchFlushMs ?? 1000);
  }

  /** Connects (bounded by the connect timeout) and returns the store. */
  static async open(opts: RedisStoreOptions): Promise<RedisStore> {
    const store = new RedisStore(opts);
    try {
      await guarded('Redis', () => waitReady(store.client, (opts.connectTimeoutMs ?? 2000) + 1000, () => store.lastError));
      store.schemaChange = await guarded('Redis', () => migrateRedis(store.client as unknown as MigrationClient, store.prefix));
      return store;
    } catch (e) {
      await store.close();
      throw e;
    }
  }

  /** Sessions held (expired ones until the sweep deletes them): for the metrics, off the request path. */
  async countSessions(): Promise<number> {
    return this.call(() => this.client.zcard(`${this.prefix}c`));
  }

  async ping(): Promise<void> {
    await guarded('Redis', () => this.client.ping());
  }

  /** The server's persistence setting, when it lets us read it: 'always', 'everysec', 'no', 'off' (no AOF), or 'unknown'. */
  async durability(): Promise<string> {
    try {
      const node = this.client instanceof Cluster ? this.client.nodes('master')[0] : this.client;
      if (!node) return 'unknown';
      const aof = (await node.config('GET', 'appendonly')) as string[];
      if (aof[1] !== 'yes') return 'off';
      return ((await node.config('GET', 'appendfsync')) as string[])[1] ?? 'unknown';
    } catch {
      return 'unknown';
    }
  }

  private call<T>(fn: () => Promise<T>): Promise<T> {
    return guarded('Redis', fn);
  }

  // ---- sessions -------------------------------------------------------------

  async createSession(s: SessionRecord): Promise<void> {
    await this.create(s, 0, 0);
  }

  async createSessionWithinLimit(s: SessionRecord, limit: number, now: number): Promise<boolean> {
    // The limit counts sessions alive at `now`: touches still pending here must be on the server first.
    if (limit > 0) await this.flushTouches();
    return this.create(s, limit, now);
  }

  private async create(s: SessionRecord, limit: number, now: number): Promise<boolean> {
    const deadline = sessionDeadline(s);
    const ttl = Math.max(deadline - s.lastAccessedAt, 0) + this.grace;
    const { lastAccessedAt: _la, tokenHash, ...rest } = s;
    const rec: StoredSession = { ...rest, tokenHash: tokenHash.toString('base64') };
    const created = await this.call(() =>
      this.client.pcCreate(
        this.prefix,
        tokenHash.toString('base64url'),
        s.id,
        JSON.stringify(rec),
        s.lastAccessedAt,
        s.expiresAt,
        s.idleTimeoutMs,
        s.createdAt,
        s.username,
        deadline,
        ttl,
        limit,
        now,
      ),
    );
    if (created === 1) this.cache.put(tokenHash.toString('latin1'), { ...s });
    return created === 1;
  }

  async findSessionByTokenHash(tokenHash: Buffer): Promise<SessionRecord | null> {
    const key = tokenHash.toString('latin1');
    const hit = this.cache.get(key);
    if (hit) return hit;
    const [r, la] = await this.call(() => this.client.hmget(`${this.prefix}t:${tokenHash.toString('base64url')}`, 'r', 'la'));
    if (!r || !la) return null;
    const s = this.toSession(r, la);
    this.cache.put(key, s);
    return s;
  }

  async getSession(id: string): Promise<SessionRecord | null> {
    const v = (await this.call(() => this.client.pcGet(this.prefix, id))) as [string, string] | null;
    return v ? this.toSession(v[0], v[1]) : null;
  }

  async listSessions(filter?: { username?: string }): Promise<SessionRecord[]> {
    const ids =
      filter?.username !== undefined
        ? await this.call(() => this.client.smembers(`${this.prefix}u:${filter.username}`))
        : await this.call(() => this.client.zrange(`${this.prefix}c`, 0, -1));
    const out: SessionRecord[] = [];
    for (let i = 0; i < ids.length; i += BATCH) {
      const chunk = ids.slice(i, i + BATCH);
      const flat = (await this.call(() => this.client.pcGetMany(this.prefix, ...chunk))) as string[];
      for (let j = 0; j < flat.length; j += 2) out.push(this.toSession(flat[j]!, flat[j + 1]!));
    }
    return out.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  cachedSession(key: string): SessionRecord | undefined {
    return this.cache.get(key);
  }

  touchSession(id: string, at: number): void {
    this.pendingTouches.add(id, at);
    this.cache.touch(id, at);
  }

  async deleteSession(id: string): Promise<boolean> {
    this.pendingTouches.delete(id);
    this.cache.evict(id);
    return (await this.call(() => this.client.pcDelete(this.prefix, id))) === 1;
  }

  async deleteSessionsOfUser(username: string): Promise<number> {
    this.cache.evictUser(username);
    const n = (await this.call(() => this.client.pcDeleteUser(this.prefix, username))) as number;
    this.cache.evictUser(username);
    return n;
  }

  async deleteExpiredSessions(now: number): Promise<SessionRecord[]> {
    await this.flushTouches();
    const gone: SessionRecord[] = [];
    // Bounded batches, so one sweep never holds the server for long.
    for (let round = 0; round < 10_000; round++) {
      const flat = (await this.call(() => this.client.pcExpired(this.prefix, now, BATCH))) as string[];
      for (let j = 0; j < flat.length; j += 2) {
        const s = this.toSession(flat[j]!, flat[j + 1]!);
        this.pendingTouches.delete(s.id);
        this.cache.evict(s.id);
        gone.push(s);
      }
      if (flat.length < 2 * BATCH) break;
    }
    return gone;
  }

  /** Writes pending touches (one script call per batch of 500). Failed writes stay pending. */
  flushTouches(): Promise<void> {
    return this.pendingTouches.flush();
  }

  private async writeTouches(batch: [string, number][]): Promise<void> {
    for (let i = 0; i < batch.length; i += BATCH) {
      const args = batch.slice(i, i + BATCH).flat();
      await this.call(() => this.client.pcTouch(this.prefix, this.grace, ...args));
    }
  }

  // ---- login guard ----------------------------------------------------------

  async recordLoginFailure(scope: FailureScope, subject: string, now: number, rule: FailureRule): Promise<FailureState & { lockedNow: boolean }> {
    const [count, lock, lockedNow] = (await this.call(() =>
      this.client.pcFail(this.prefix, scope, subject, now, rule.limit, rule.windowMs, rule.lockMs, String(LOCKED_UNTIL_CLEARED), this.grace),
    )) as [number, string, number];
    const lockedUntil = Number(lock);
    return { count, locked: lockedUntil > now, lockedUntil, lockedNow: lockedNow === 1 };
  }

  async getLoginFailures(scope: FailureScope, subject: string, now: number, windowMs: number): Promise<FailureState> {
    const [count, first, lock] = await this.call(() => this.client.hmget(`${this.prefix}f:${scope}:${subject}`, 'count', 'first', 'lock'));
    const row = count && first && lock ? { count: Number(count), firstAt: Number(first), lockedUntil: Number(lock) } : undefined;
    return readFailure(row, now, windowMs);
  }

  async clearLoginFailures(scope: FailureScope, subject: string): Promise<boolean> {
    return (await this.call(() => this.client.pcClearFail(this.prefix, scope, subject))) === 1;
  }

  async rememberLoginSource(username: string, source: string, at: number): Promise<void> {
    await this.call(() => this.client.pcRemember(this.prefix, username, source, at));
  }

  async lastLoginFromSource(username: string, source: string): Promise<number | null> {
    const v = await this.call(() => this.client.hget(`${this.prefix}src:${username}`, source));
    return v === null ? null : Number(v);
  }

  async listLoginFailures(scope: FailureScope, now: number, windowMs: number, limit: number): Promise<FailureEntry[]> {
    const flat = (await this.call(() => this.client.pcListFail(this.prefix, scope, now, windowMs, limit, 100_000))) as (string | number)[];
    const out: FailureEntry[] = [];
    for (let i = 0; i + 3 < flat.length; i += 4) {
      const lockedUntil = Number(flat[i + 3]);
      out.push({ subject: String(flat[i]), count: Number(flat[i + 1]), firstAt: Number(flat[i + 2]), locked: lockedUntil > now, lockedUntil });
    }
    return out;
  }

  async listLoginSources(since: number, limit: number): Promise<LoginSourceEntry[]> {
    const flat = await this.call(() => this.client.zrevrangebyscore(`${this.prefix}si`, '+inf', String(since), 'WITHSCORES', 'LIMIT', 0, limit));
    const out: LoginSourceEntry[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const member = flat[i]!;
      const nl = member.indexOf('\n');
      out.push({ username: member.slice(0, nl), source: member.slice(nl + 1), at: Number(flat[i + 1]) });
    }
    // Newest first; equal times by name, as the SQL stores sort them.
    return out.sort((a, b) => b.at - a.at || (a.username < b.username ? -1 : a.username > b.username ? 1 : a.source < b.source ? -1 : a.source > b.source ? 1 : 0));
  }

  async pruneLoginGuard(now: number, failuresBefore: number, sourcesBefore: number): Promise<number> {
    return (await this.call(() => this.client.pcPrune(this.prefix, now, failuresBefore, sourcesBefore, 10_000))) as number;
  }

  /** Writes what is pending and disconnects. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.pendingTouches.stop();
    await this.flushTouches().catch(() => {
      /* Redis is gone: those touches are lost, which can only make sessions end earlier */
    });
    this.cache.clear();
    this.client.disconnect();
  }

  private toSession(r: string, la: string): SessionRecord {
    const rec = JSON.parse(r) as StoredSession;
    return {
      ...rec,
      tokenHash: Buffer.from(rec.tokenHash, 'base64'),
      lastAccessedAt: this.pendingTouches.overlay(rec.id, Number(la)),
    } as SessionRecord;
  }
}

function connect(opts: RedisStoreOptions): Client {
  const url = new URL(opts.url);
  const tls = url.protocol === 'rediss:' || opts.tls ? tlsOptions(opts.tls) : undefined;
  const base: RedisOptions = {
    connectTimeout: opts.connectTimeoutMs ?? 2000,
    commandTimeout: opts.commandTimeoutMs ?? 1000,
    // Fail at once while disconnected, never queue behind a dead connection.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: (times) => Math.min(100 * times, 2000),
    enableReadyCheck: true,
    lazyConnect: false,
    ...(tls ? { tls } : {}),
  };
  const password = url.password ? decodeURIComponent(url.password) : undefined;
  const username = url.username ? decodeURIComponent(url.username) : undefined;
  if (url.protocol === 'redis:' || url.protocol === 'rediss:') {
    const db = Number(url.pathname.slice(1) || '0');
    return new Redis({
      ...base,
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port: Number(url.port || 6379),
      db,
      ...(password !== undefined ? { password } : {}),
      ...(username !== undefined ? { username } : {}),
    }) as Client;
  }
  // host:port lists do not parse as one URL host: take them from the raw text.
  const m = /^redis-(sentinel|cluster):\/\/(?:([^@/]*)@)?([^/]+)(?:\/([^/]*))?(?:\/(\d+))?$/.exec(opts.url);
  if (!m) throw new Error(`redis url "${opts.url}" is not redis://, rediss://, redis-sentinel:// or redis-cluster://`);
  const auth = m[2] ? decodeURIComponent(m[2].includes(':') ? m[2].slice(m[2].indexOf(':') + 1) : m[2]) : undefined;
  const nodes = m[3]!.split(',').map((hp) => {
    const i = hp.lastIndexOf(':');
    return { host: i > 0 ? hp.slice(0, i).replace(/^\[|\]$/g, '') : hp, port: i > 0 ? Number(hp.slice(i + 1)) : m[1] === 'sentinel' ? 26379 : 6379 };
  });
  if (m[1] === 'sentinel') {
    if (!m[4]) throw new Error('a redis-sentinel:// url names the master: redis-sentinel://host:26379,host:26379/mymaster');
    return new Redis({ ...base, sentinels: nodes, name: m[4], db: Number(m[5] ?? 0), ...(auth !== undefined ? { password: auth } : {}) }) as Client;
  }
  // The cluster client asks a node for the slot map before it is ready: node connections must queue that first
  // command; the cluster itself still fails commands at once while it is not ready.
  const { enableOfflineQueue: _q, maxRetriesPerRequest: _m, ...nodeOptions } = base;
  const clusterOptions: ClusterOptions = {
    enableOfflineQueue: false,
    // Its ready check (CLUSTER INFO) races the node connection's own handshake when nothing may be queued,
    // and then reconnects in a loop; ready once the slot map is known is enough.
    enableReadyCheck: false,
    redisOptions: { ...nodeOptions, ...(auth !== undefined ? { password: auth } : {}) },
    clusterRetryStrategy: (times) => Math.min(100 * times, 2000),
  };
  return new Cluster(nodes, clusterOptions) as Client;
}

function tlsOptions(t: RedisStoreOptions['tls']): { ca?: string; rejectUnauthorized: boolean } {
  if (!t) return { rejectUnauthorized: true };
  return { rejectUnauthorized: t.rejectUnauthorized ?? true, ...(t.caFile ? { ca: readFileSync(t.caFile, 'utf8') } : {}) };
}

async function waitReady(client: Redis | Cluster, timeoutMs: number, lastError: () => string | undefined): Promise<void> {
  if (client.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => {
      cleanup();
      const why = lastError();
      const e = new Error(`connection is closed: not ready within ${timeoutMs} ms${why ? ` (last error: ${why})` : ''}`);
      (e as { code?: string }).code = 'ETIMEDOUT';
      reject(e);
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(t);
      client.off('ready', onReady);
    };
    client.on('ready', onReady);
  });
}
