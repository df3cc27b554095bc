import { migrationFold } from '../../../ports/identity-names.js';
import { planCounters, planSources, type CounterRow, type SourceRow } from '../identity-migration.js';

/** The Redis layout version this Portcullis writes (key `<prefix>schema`); 1 = canonical identities. */
export const REDIS_SCHEMA = 1;

const LOCK_MS = 120_000;
const WAIT_MS = 60_000;
const SCAN_COUNT = 500;

/** The commands the migration needs (the store's client). */
export interface MigrationClient {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, px: 'PX', ms: number, nx: 'NX'): Promise<string | null>;
  set(key: string, value: string): Promise<string | null>;
  del(key: string): Promise<number>;
  zscan(key: string, cursor: string, count: 'COUNT', n: number): Promise<[string, string[]]>;
  zrange(key: string, start: number, stop: number, withScores: 'WITHSCORES'): Promise<string[]>;
  hmget(key: string, ...fields: string[]): Promise<(string | null)[]>;
  pttl(key: string): Promise<number>;
  pcMigrateSessions(...args: (string | number)[]): Promise<unknown>;
  pcMergeCounters(...args: (string | number)[]): Promise<unknown>;
  pcMoveSource(...args: (string | number)[]): Promise<unknown>;
}

export class RedisSchemaError extends Error {
  override name = 'RedisSchemaError';
}

/**
 * Brings the Redis layout to {@link REDIS_SCHEMA} (README "Identities"): ends
 * the sessions kept under typed names, re-keys failure counters and trusted
 * sources by their folded name (src/adapters/store/identity-migration.ts).
 * One node migrates (a lock key); the others wait for the version to appear.
 * Returns [from, to].
 */
export async function migrateRedis(c: MigrationClient, prefix: string): Promise<[number, number]> {
  const versionKey = `${prefix}schema`;
  const current = Number((await c.get(versionKey)) ?? 0);
  if (current > REDIS_SCHEMA) throw new RedisSchemaError(`Redis layout version ${current} is newer than this Portcullis understands (${REDIS_SCHEMA}); refusing to start`);
  if (current === REDIS_SCHEMA) return [current, current];
  const lockKey = `${prefix}schema:lock`;
  if ((await c.set(lockKey, String(process.pid), 'PX', LOCK_MS, 'NX')) !== 'OK') {
    const until = Date.now() + WAIT_MS;
    while (Date.now() < until) {
      await new Promise((r) => setTimeout(r, 200));
      if (Number((await c.get(versionKey)) ?? 0) >= REDIS_SCHEMA) return [current, REDIS_SCHEMA];
    }
    throw new RedisSchemaError(`another node has been migrating Redis for over ${WAIT_MS / 1000} s (key ${lockKey}); refusing to start`);
  }
  try {
    // Sessions, in batches of the deadline index (every session is in it).
    let cursor = '0';
    do {
      const [next, flat] = await c.zscan(`${prefix}x`, cursor, 'COUNT', SCAN_COUNT);
      cursor = next;
      const ids = flat.filter((_, i) => i % 2 === 0);
      if (ids.length) await c.pcMigrateSessions(prefix, ...ids);
    } while (cursor !== '0');

    const fi = await c.zrange(`${prefix}fi`, 0, -1, 'WITHSCORES');
    const rows: (CounterRow & { member: string; pttl: number })[] = [];
    for (let i = 0; i < fi.length; i += 2) {
      const member = fi[i]!;
      if (!member.startsWith('account:')) continue;
      const [count, first, lock] = await c.hmget(`${prefix}f:${member}`, 'count', 'first', 'lock');
      if (count === null || first === null || lock === null) continue;
      rows.push({ member, subject: member.slice('account:'.length), count: Number(count), firstAt: Number(first), lockedUntil: Number(lock), pttl: await c.pttl(`${prefix}f:${member}`) });
    }
    const plan = planCounters(rows);
    for (const put of plan.put) {
      const group = rows.filter((r) => migrationFold(r.subject) === put.subject);
      // The longest life any of them had (a lock until cleared has none: persistent).
      const ttl = group.some((r) => r.pttl < 0) ? -1 : Math.max(...group.map((r) => r.pttl));
      await c.pcMergeCounters(prefix, `account:${put.subject}`, put.count, put.firstAt, String(put.lockedUntil), ttl, ...group.map((r) => r.member));
    }

    const si = await c.zrange(`${prefix}si`, 0, -1, 'WITHSCORES');
    const sources: SourceRow[] = [];
    for (let i = 0; i < si.length; i += 2) {
      const m = si[i]!;
      const nl = m.indexOf('\n');
      if (nl < 0) continue;
      sources.push({ username: m.slice(0, nl), source: m.slice(nl + 1), at: Number(si[i + 1]) });
    }
    const sp = planSources(sources);
    for (const put of sp.put) {
      const old = sp.remove.filter((r) => r.source === put.source && migrationFold(r.username) === put.username).map((r) => r.username);
      await c.pcMoveSource(prefix, put.username, put.source, put.at, ...old);
    }
    await c.set(versionKey, String(REDIS_SCHEMA));
    return [current, REDIS_SCHEMA];
  } finally {
    await c.del(lockKey);
  }
}
