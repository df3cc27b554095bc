/*
 * Lua scripts of the Redis session store: each is one atomic step on the server.
 * Every key is built from ARGV[1], the key prefix; the default prefix carries a
 * hash tag ({portcullis}) so that on Redis Cluster all keys live in one slot and
 * the scripts stay atomic.
 *
 * Layout (P = prefix):
 *   P t:<token hash, base64url>  HASH  r = session JSON (all but lastAccessedAt), la = lastAccessedAt,
 *                                      id, u = username, e = expiresAt, d = idleTimeoutMs
 *   P i:<id>                     STRING token-hash key suffix of the session
 *   P u:<username>               SET    ids of the user's sessions
 *   P x                          ZSET   id -> deadline (min(expiresAt, la + idle)): sweeps and the per-user limit
 *   P c                          ZSET   id -> createdAt: listing oldest first
 *   P f:<scope>:<subject>        HASH   count, first, lock (failure counter)
 *   P fi                         ZSET   "<scope>:<subject>" -> first failure of the run
 *   P src:<username>             HASH   source -> last successful login
 *   P si                         ZSET   "<username>\n<source>" -> last successful login
 *
 * Times are integers in ms; they are formatted with %.0f, never tostring (which
 * would print 1.7e+12). Key TTLs are a safety net only (relative to the record's
 * own times, plus a grace period): expiry is decided by the deadlines, at the
 * caller's clock.
 */

const COMMON = `
local P = ARGV[1]
local function n(x) return string.format('%.0f', x) end
local function dropSession(id)
  local tok = redis.call('GET', P .. 'i:' .. id)
  redis.call('ZREM', P .. 'x', id)
  redis.call('ZREM', P .. 'c', id)
  if not tok then return nil end
  local key = P .. 't:' .. tok
  local v = redis.call('HMGET', key, 'r', 'la', 'u')
  redis.call('DEL', key, P .. 'i:' .. id)
  if v[3] then redis.call('SREM', P .. 'u:' .. v[3], id) end
  if not v[1] then return nil end
  return {v[1], v[2]}
end
`;

/** ARGV: prefix, tokKey, id, recJSON, la, expiresAt, idle, createdAt, username, deadline, ttlMs, limit, now. Returns 1 created, 0 refused. */
export const CREATE_SESSION = `${COMMON}
local tok, id, rec, la, e, d, c, user, deadline, ttl, limit, now =
  ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11], tonumber(ARGV[12]), tonumber(ARGV[13])
local ukey = P .. 'u:' .. user
if limit > 0 then
  local live = 0
  for _, sid in ipairs(redis.call('SMEMBERS', ukey)) do
    local score = redis.call('ZSCORE', P .. 'x', sid)
    if not score or redis.call('EXISTS', P .. 'i:' .. sid) == 0 then
      redis.call('SREM', ukey, sid)
    elseif tonumber(score) > now then
      live = live + 1
    end
  end
  if live >= limit then return 0 end
end
local key = P .. 't:' .. tok
redis.call('HSET', key, 'r', rec, 'la', la, 'id', id, 'u', user, 'e', e, 'd', d)
redis.call('PEXPIRE', key, ttl)
redis.call('SET', P .. 'i:' .. id, tok, 'PX', ttl)
redis.call('SADD', ukey, id)
redis.call('ZADD', P .. 'x', deadline, id)
redis.call('ZADD', P .. 'c', c, id)
return 1
`;

/** ARGV: prefix, graceMs, then (id, at) pairs. Never moves lastAccessedAt backwards; never creates a session. */
export const TOUCH_SESSIONS = `${COMMON}
local grace = tonumber(ARGV[2])
for i = 3, #ARGV, 2 do
  local id, at = ARGV[i], tonumber(ARGV[i + 1])
  local tok = redis.call('GET', P .. 'i:' .. id)
  if tok then
    local key = P .. 't:' .. tok
    local v = redis.call('HMGET', key, 'la', 'e', 'd')
    if v[1] and at > tonumber(v[1]) then
      local e, d = tonumber(v[2]), tonumber(v[3])
      local deadline = e
      if d > 0 and at + d < e then deadline = at + d end
      redis.call('HSET', key, 'la', n(at))
      redis.call('ZADD', P .. 'x', 'XX', n(deadline), id)
      local ttl = deadline - at + grace
      if ttl < grace then ttl = grace end
      redis.call('PEXPIRE', key, n(ttl))
      redis.call('PEXPIRE', P .. 'i:' .. id, n(ttl))
    end
  end
end
return 1
`;

/** ARGV: prefix, id. Returns {r, la} or nil. */
export const GET_SESSION = `${COMMON}
local tok = redis.call('GET', P .. 'i:' .. ARGV[2])
if not tok then return nil end
local v = redis.call('HMGET', P .. 't:' .. tok, 'r', 'la')
if not v[1] then return nil end
return v
`;

/** ARGV: prefix, then ids. Returns {r, la} for each id that still exists, in order (missing ones are cleaned from the indexes). */
export const GET_SESSIONS = `${COMMON}
local out = {}
for i = 2, #ARGV do
  local id = ARGV[i]
  local tok = redis.call('GET', P .. 'i:' .. id)
  local v = tok and redis.call('HMGET', P .. 't:' .. tok, 'r', 'la') or {false, false}
  if v[1] then
    out[#out + 1] = v[1]
    out[#out + 1] = v[2]
  else
    dropSession(id)
  end
end
return out
`;

/** ARGV: prefix, id. Returns 1 when a session was deleted. */
export const DELETE_SESSION = `${COMMON}
if dropSession(ARGV[2]) then return 1 end
return 0
`;

/** ARGV: prefix, username. Returns how many sessions were deleted. */
export const DELETE_USER_SESSIONS = `${COMMON}
local ukey = P .. 'u:' .. ARGV[2]
local count = 0
for _, id in ipairs(redis.call('SMEMBERS', ukey)) do
  if dropSession(id) then count = count + 1 end
end
redis.call('DEL', ukey)
return count
`;

/** ARGV: prefix, now, max. Deletes up to max sessions whose deadline <= now; returns their {r, la} pairs. */
export const DELETE_EXPIRED = `${COMMON}
local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. 'x', '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))) do
  local v = dropSession(id)
  if v then
    out[#out + 1] = v[1]
    out[#out + 1] = v[2]
  end
end
return out
`;

/** ARGV: prefix, scope, subject, now, limit, windowMs, lockMs, lockedUntilCleared, graceMs. Returns {count, lockedUntil, lockedNow}. */
export const RECORD_FAILURE = `${COMMON}
local scope, subject, now, limit, window, lockMs, forever, grace =
  ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8], tonumber(ARGV[9])
local member = scope .. ':' .. subject
local key = P .. 'f:' .. member
local v = redis.call('HMGET', key, 'count', 'first', 'lock')
local count, first, lock
local fresh = true
if v[1] then
  count, first, lock = tonumber(v[1]), tonumber(v[2]), v[3]
  local lockN = tonumber(lock)
  if lock ~= '0' then
    fresh = lockN <= now
  else
    fresh = now >= first + window
  end
end
if fresh then count, first, lock = 1, now, '0' else count = count + 1 end
local lockedNow = 0
if lock == '0' and limit > 0 and count >= limit then
  if lockMs > 0 then lock = n(now + lockMs) else lock = forever end
  lockedNow = 1
end
redis.call('HSET', key, 'count', count, 'first', n(first), 'lock', lock)
redis.call('ZADD', P .. 'fi', n(first), member)
if lock == forever then
  redis.call('PERSIST', key)
else
  local untilT = first + window
  if lock ~= '0' and tonumber(lock) > untilT then untilT = tonumber(lock) end
  local ttl = untilT - now + grace
  if ttl < grace then ttl = grace end
  redis.call('PEXPIRE', key, n(ttl))
end
return {count, lock, lockedNow}
`;

/** ARGV: prefix, scope, subject. Returns 1 when there was a counter. */
export const CLEAR_FAILURE = `${COMMON}
local member = ARGV[2] .. ':' .. ARGV[3]
redis.call('ZREM', P .. 'fi', member)
return redis.call('DEL', P .. 'f:' .. member)
`;

/** ARGV: prefix, username, source, at. Keeps the latest time. */
export const REMEMBER_SOURCE = `${COMMON}
local key = P .. 'src:' .. ARGV[2]
local cur = redis.call('HGET', key, ARGV[3])
if cur and tonumber(cur) >= tonumber(ARGV[4]) then return 0 end
redis.call('HSET', key, ARGV[3], ARGV[4])
redis.call('ZADD', P .. 'si', ARGV[4], ARGV[2] .. '\\n' .. ARGV[3])
return 1
`;

/** ARGV: prefix, now, failuresBefore, sourcesBefore, max. Returns how many counters and sources were deleted. */
export const PRUNE_GUARD = `${COMMON}
local now, fb, sb, max = tonumber(ARGV[2]), ARGV[3], ARGV[4], tonumber(ARGV[5])
local count = 0
for _, member in ipairs(redis.call('ZRANGEBYSCORE', P .. 'fi', '-inf', '(' .. fb, 'LIMIT', 0, max)) do
  local key = P .. 'f:' .. member
  local lock = redis.call('HGET', key, 'lock')
  if not lock then
    redis.call('ZREM', P .. 'fi', member)
  elseif lock == '0' or tonumber(lock) <= now then
    redis.call('DEL', key)
    redis.call('ZREM', P .. 'fi', member)
    count = count + 1
  end
end
for _, member in ipairs(redis.call('ZRANGEBYSCORE', P .. 'si', '-inf', '(' .. sb, 'LIMIT', 0, max)) do
  local nl = string.find(member, '\\n', 1, true)
  local user, source = string.sub(member, 1, nl - 1), string.sub(member, nl + 1)
  count = count + redis.call('HDEL', P .. 'src:' .. user, source)
  redis.call('ZREM', P .. 'si', member)
end
return count
`;

/**
 * Schema 1 (canonical identities), sessions: ARGV prefix, then ids. Ends every
 * session not made by a local account, and local ones whose name reads as
 * qualified (`ldap:x`): those names were typed, not canonical. Returns how many.
 */
export const MIGRATE_SESSIONS = `${COMMON}
local ended = 0
for i = 2, #ARGV do
  local id = ARGV[i]
  local tok = redis.call('GET', P .. 'i:' .. id)
  local r = tok and redis.call('HGET', P .. 't:' .. tok, 'r')
  local keep = false
  if r then
    local s = cjson.decode(r)
    local u = tostring(s.username or '')
    keep = s.authSource == 'local' and not (string.match(u, '^local:.') or string.match(u, '^pam:.') or string.match(u, '^ldap:.'))
  end
  if not keep then
    dropSession(id)
    ended = ended + 1
  end
end
return ended
`;

/**
 * Schema 1, failure counters: ARGV prefix, new member ("account:<key>"), count,
 * first, lock, pttl (-1 = persistent), then the old members to delete. One group
 * of counters that fold to one key becomes one, atomically.
 */
export const MERGE_COUNTERS = `${COMMON}
for i = 7, #ARGV do
  redis.call('DEL', P .. 'f:' .. ARGV[i])
  redis.call('ZREM', P .. 'fi', ARGV[i])
end
local key = P .. 'f:' .. ARGV[2]
redis.call('HSET', key, 'count', ARGV[3], 'first', ARGV[4], 'lock', ARGV[5])
redis.call('ZADD', P .. 'fi', ARGV[4], ARGV[2])
if tonumber(ARGV[6]) > 0 then redis.call('PEXPIRE', key, ARGV[6]) else redis.call('PERSIST', key) end
return 1
`;

/** Schema 1, trusted sources: ARGV prefix, new username, source, at, then old usernames (of that source) to forget. */
export const MOVE_SOURCE = `${COMMON}
for i = 5, #ARGV do
  redis.call('HDEL', P .. 'src:' .. ARGV[i], ARGV[3])
  redis.call('ZREM', P .. 'si', ARGV[i] .. '\\n' .. ARGV[3])
end
local key = P .. 'src:' .. ARGV[2]
local cur = redis.call('HGET', key, ARGV[3])
if cur and tonumber(cur) >= tonumber(ARGV[4]) then return 0 end
redis.call('HSET', key, ARGV[3], ARGV[4])
redis.call('ZADD', P .. 'si', ARGV[4], ARGV[2] .. '\\n' .. ARGV[3])
return 1
`;

/**
 * ARGV: prefix, scope, now, windowMs, limit, max. The counters of one scope alive at
 * `now` (as getLoginFailures reads them), most failures first, then by subject; looks
 * at no more than `max` members of the index. Returns {subject, count, first, lock, ...}.
 */
export const LIST_FAILURES = `${COMMON}
local scope, now, window, limit, max = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local prefix = scope .. ':'
local rows = {}
for _, member in ipairs(redis.call('ZRANGE', P .. 'fi', 0, max - 1)) do
  if string.sub(member, 1, #prefix) == prefix then
    local v = redis.call('HMGET', P .. 'f:' .. member, 'count', 'first', 'lock')
    if v[1] then
      local count, first, lock = tonumber(v[1]), tonumber(v[2]), tonumber(v[3])
      local alive
      if lock ~= 0 then alive = lock > now else alive = now < first + window end
      if alive then rows[#rows + 1] = {string.sub(member, #prefix + 1), count, v[2], v[3]} end
    end
  end
end
table.sort(rows, function(a, b) if a[2] ~= b[2] then return a[2] > b[2] end return a[1] < b[1] end)
local out = {}
for i = 1, math.min(#rows, limit) do
  local r = rows[i]
  out[#out + 1] = r[1]; out[#out + 1] = r[2]; out[#out + 1] = r[3]; out[#out + 1] = r[4]
end
return out
`;
