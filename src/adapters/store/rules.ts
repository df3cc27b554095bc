import { LOCKED_UNTIL_CLEARED, type FailureRule, type FailureState, type SessionRecord } from '../../ports/store.js';

/*
 * The storage rules of src/ports/store.ts as pure functions, so every SQL adapter
 * applies the same arithmetic inside its own transaction. (The Redis adapter runs
 * the same rules in Lua, next to the data; its tests are the same contract suite.)
 */

/** When a session ends at the latest, given its activity: min(absolute expiry, last access + idle timeout). */
export function sessionDeadline(s: Pick<SessionRecord, 'expiresAt' | 'lastAccessedAt' | 'idleTimeoutMs'>): number {
  return s.idleTimeoutMs > 0 ? Math.min(s.expiresAt, s.lastAccessedAt + s.idleTimeoutMs) : s.expiresAt;
}

/** Alive at `now` as deleteExpiredSessions counts it: the exact deadline is already ended. */
export function sessionAlive(s: Pick<SessionRecord, 'expiresAt' | 'lastAccessedAt' | 'idleTimeoutMs'>, now: number): boolean {
  return now < sessionDeadline(s);
}

/** A failure counter as stored. `lockedUntil` 0 = not locked. */
export interface FailureRow {
  count: number;
  firstAt: number;
  lockedUntil: number;
}

/** The counter after one more failure at `now` (the one atomic step of recordLoginFailure). */
export function nextFailure(row: FailureRow | undefined, now: number, rule: FailureRule): FailureRow & { lockedNow: boolean } {
  const lockEnded = row !== undefined && row.lockedUntil !== 0 && row.lockedUntil <= now;
  const windowEnded = row !== undefined && row.lockedUntil === 0 && now >= row.firstAt + rule.windowMs;
  const fresh = row === undefined || lockEnded || windowEnded;
  const count = fresh ? 1 : row.count + 1;
  const firstAt = fresh ? now : row.firstAt;
  let lockedUntil = fresh ? 0 : row.lockedUntil;
  let lockedNow = false;
  if (lockedUntil === 0 && rule.limit > 0 && count >= rule.limit) {
    lockedUntil = rule.lockMs > 0 ? now + rule.lockMs : LOCKED_UNTIL_CLEARED;
    lockedNow = true;
  }
  return { count, firstAt, lockedUntil, lockedNow };
}

/** The counter as read at `now` (getLoginFailures). */
export function readFailure(row: FailureRow | undefined, now: number, windowMs: number): FailureState {
  if (!row) return { count: 0, locked: false, lockedUntil: 0 };
  if (row.lockedUntil !== 0) {
    return row.lockedUntil > now ? { count: row.count, locked: true, lockedUntil: row.lockedUntil } : { count: 0, locked: false, lockedUntil: 0 };
  }
  return now >= row.firstAt + windowMs ? { count: 0, locked: false, lockedUntil: 0 } : { count: row.count, locked: false, lockedUntil: 0 };
}

/** The state recordLoginFailure reports for a stored row. */
export function failureResult(row: FailureRow & { lockedNow: boolean }, now: number): FailureState & { lockedNow: boolean } {
  return { count: row.count, locked: row.lockedUntil > now, lockedUntil: row.lockedUntil, lockedNow: row.lockedNow };
}
