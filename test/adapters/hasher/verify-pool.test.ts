import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, test } from 'node:test';
import { hash, Algorithm } from '@node-rs/argon2';
import { ActivityMeter } from '../../../src/core/admission.js';
import { VerifyPool } from '../../../src/adapters/hasher/verify-pool.js';

const linux = process.platform === 'linux';
/** A thread's niceness, from /proc (field 19 of its stat). */
function niceOf(tid: number): number {
  const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}
const params = { algorithm: Algorithm.Argon2id, memoryCost: 8192, timeCost: 1, parallelism: 1 };
const pools: VerifyPool[] = [];
after(() => pools.forEach((p) => p.close()));

test('hashing threads run at the event loop priority without checks, and drop to the low one with them', { skip: !linux, timeout: 20_000 }, async () => {
  const meter = new ActivityMeter();
  const pool = new VerifyPool(2, 10, { meter, holdMs: 300, pollMs: 5 });
  pools.push(pool);
  const stored = await hash('pw-1', params);
  assert.equal(await pool.verify(stored, 'pw-1'), true);
  assert.equal(await pool.verify(stored, 'nope'), false);
  // Both threads have told their ids by now (the first message of each).
  await new Promise((r) => setTimeout(r, 50));
  const tids = pool.threadIds;
  assert.equal(tids.length, 2);
  await pool.verify(stored, 'pw-1');
  const { canLower } = pool.priorityChange;
  if (canLower) {
    assert.deepEqual(tids.map(niceOf), [pool.idleNice, pool.idleNice], 'no checks: the process priority');
  } else {
    // No CAP_SYS_NICE: the threads stay at the low priority, and the pool says so.
    assert.deepEqual(tids.map(niceOf), [10, 10]);
    return;
  }
  // A session check is served while a verification is in hand: the threads go low within a poll.
  const v = pool.verify(stored, 'pw-1');
  meter.note();
  await new Promise((r) => setTimeout(r, 30));
  pool.adjustPriority();
  assert.deepEqual(tids.map(niceOf), [10, 10], 'checks being served: niceness 10');
  await v;
  // They stay low for holdMs after the last check, then the next verification raises them again.
  await pool.verify(stored, 'pw-1');
  assert.deepEqual(tids.map(niceOf), [10, 10]);
  await new Promise((r) => setTimeout(r, 350));
  assert.equal(await pool.verify(stored, 'pw-1'), true);
  assert.deepEqual(tids.map(niceOf), [pool.idleNice, pool.idleNice]);
  assert.ok(pool.priorityChange.changes >= 3);
});

test('a pool at niceness 0 never renices', { timeout: 20_000 }, async () => {
  const meter = new ActivityMeter();
  const pool = new VerifyPool(1, 0, { meter });
  pools.push(pool);
  const stored = await hash('pw-2', params);
  meter.note();
  assert.equal(await pool.verify(stored, 'pw-2'), true);
  assert.equal(pool.priorityChange.changes, 0);
});
