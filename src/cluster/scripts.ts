/**
 * The registry's Lua scripts. Each runs atomically in Redis, which is what makes ownership
 * exclusive: a claim, a write and a renewal each check the owner and the fencing counter and act
 * in one step.
 *
 * Keys of one call share a hash tag (`vg:{id}:call`, `vg:{id}:lease`):
 * - `call` is a hash: `record` (the JSON call record), `owner` (instance id), `fence` (a counter
 *   raised by every claim: the newest owner has the highest), `attached` ("1" while the owner's
 *   socket to VAIC is open). Its TTL is the lease TTL plus the resume grace, refreshed by the
 *   owner, so a dead owner's call can still be resumed for the grace period.
 * - `lease` is `owner:fence` with the lease TTL: it exists while the owner is alive and renewing.
 */

/**
 * Writes a call record. ARGV: instance, fence, record, attached, leaseTtl, recordTtl, mode.
 * Mode `new` (a call just accepted here): refused with `conflict` while another instance holds a
 * live lease on the id; otherwise the fence goes up by one. Mode `update`: written only while this
 * instance still owns the call (`lost` otherwise, the caller lets go); a record that vanished
 * (a Redis restart without persistence) is written again as it was.
 * Returns `{status, fence}`.
 */
export const PUT = `
local owner = redis.call('HGET', KEYS[1], 'owner')
local stored = tonumber(redis.call('HGET', KEYS[1], 'fence') or '0')
local mine = tonumber(ARGV[2])
local fence = mine
if ARGV[7] == 'new' then
  if owner and owner ~= ARGV[1] and redis.call('PTTL', KEYS[2]) > 0 then
    return {'conflict', tostring(stored)}
  end
  fence = stored + 1
elseif owner then
  if stored > mine or (stored == mine and owner ~= ARGV[1]) then
    return {'lost', tostring(stored)}
  end
end
redis.call('HSET', KEYS[1], 'record', ARGV[3], 'owner', ARGV[1], 'fence', fence, 'attached', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('SET', KEYS[2], ARGV[1] .. ':' .. fence, 'PX', ARGV[5])
return {'ok', tostring(fence)}
`;

/**
 * Claims a call for a resume. ARGV: instance, leaseTtl, recordTtl.
 * `{'missing'}`: no such call. `{'attached', owner, pttl}`: its owner is alive and its socket is
 * open (no takeover). `{'claimed', fence, previousOwner, record}`: this instance owns it now.
 */
export const CLAIM = `
if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing'} end
local owner = redis.call('HGET', KEYS[1], 'owner') or ''
local attached = redis.call('HGET', KEYS[1], 'attached')
local pttl = redis.call('PTTL', KEYS[2])
if pttl > 0 and attached == '1' and owner ~= ARGV[1] then
  return {'attached', owner, tostring(pttl)}
end
local fence = redis.call('HINCRBY', KEYS[1], 'fence', 1)
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'attached', '1')
redis.call('SET', KEYS[2], ARGV[1] .. ':' .. fence, 'PX', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {'claimed', tostring(fence), owner, redis.call('HGET', KEYS[1], 'record') or ''}
`;

/**
 * Renews the leases of every call an instance owns, in one round trip. KEYS: call1, lease1,
 * call2, lease2, …; ARGV: instance, leaseTtl, recordTtl, fence1, fence2, …
 * Returns one status per call: `ok`, `lost` (another instance owns it) or `missing` (the record
 * is gone: the owner writes it again).
 */
export const RENEW = `
local out = {}
for i = 1, #KEYS / 2 do
  local call, lease = KEYS[2 * i - 1], KEYS[2 * i]
  local mine = tonumber(ARGV[3 + i])
  local owner = redis.call('HGET', call, 'owner')
  local stored = tonumber(redis.call('HGET', call, 'fence') or '0')
  if not owner then
    out[i] = 'missing'
  elseif stored > mine or (stored == mine and owner ~= ARGV[1]) then
    out[i] = 'lost'
  else
    redis.call('PEXPIRE', call, ARGV[3])
    redis.call('SET', lease, ARGV[1] .. ':' .. stored, 'PX', ARGV[2])
    out[i] = 'ok'
  end
end
return out
`;

/** Deletes a call that ended, only while this instance owns it. ARGV: instance, fence. */
export const RELEASE = `
local owner = redis.call('HGET', KEYS[1], 'owner')
local stored = tonumber(redis.call('HGET', KEYS[1], 'fence') or '0')
if owner == ARGV[1] and stored == tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[1], KEYS[2])
  return 'ok'
end
return 'lost'
`;

/**
 * An instance's heartbeat and the cluster view, in one round trip. KEYS: the instance set.
 * ARGV: instance, ttl, calls, detached, sessions, startedAt, then the instance's admission slots
 * as key, count pairs (its `:slots` hash is replaced by them, so it never drifts). Returns
 * `{instance, calls, detached, sessions, startedAt, …}` flattened for every live instance.
 */
export const HEARTBEAT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('PEXPIRE', KEYS[1], ttl * 4)
local me = KEYS[1] .. ':' .. ARGV[1]
redis.call('HSET', me, 'calls', ARGV[3], 'detached', ARGV[4], 'sessions', ARGV[5], 'startedAt', ARGV[6])
redis.call('PEXPIRE', me, ttl)
local slots = me .. ':slots'
redis.call('DEL', slots)
for i = 7, #ARGV - 1, 2 do
  redis.call('HSET', slots, ARGV[i], ARGV[i + 1])
end
if #ARGV > 6 then redis.call('PEXPIRE', slots, ttl) end
local out = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local h = redis.call('HMGET', KEYS[1] .. ':' .. id, 'calls', 'detached', 'sessions', 'startedAt')
  if h[1] then
    table.insert(out, id)
    table.insert(out, h[1])
    table.insert(out, h[2])
    table.insert(out, h[3])
    table.insert(out, h[4])
  end
end
return out
`;

/** Leaves the cluster view at once (a clean shutdown). KEYS: the instance set. ARGV: instance. */
export const LEAVE = `
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[1] .. ':' .. ARGV[1], KEYS[1] .. ':' .. ARGV[1] .. ':slots')
return 'ok'
`;

/**
 * Takes an admission slot (a connection per peer or per user) against a cluster-wide cap.
 * KEYS: the instance set. ARGV: instance, slot key, cap, this instance's count of the key with
 * the new slot, ttl. Counts the key over every live instance's `:slots` hash (heartbeats within
 * the TTL) and this instance's own count; under the cap it writes the new count and returns
 * `{'ok', total}`, otherwise `{'full', total}` and writes nothing.
 */
export const SLOT_ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local others = 0
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')) do
  if id ~= ARGV[1] then
    others = others + tonumber(redis.call('HGET', KEYS[1] .. ':' .. id .. ':slots', ARGV[2]) or '0')
  end
end
local count = tonumber(ARGV[4])
if others + count > tonumber(ARGV[3]) then
  return {'full', tostring(others + count - 1)}
end
local slots = KEYS[1] .. ':' .. ARGV[1] .. ':slots'
redis.call('HSET', slots, ARGV[2], count)
redis.call('PEXPIRE', slots, ARGV[5])
return {'ok', tostring(others + count)}
`;

/** Writes this instance's count of one slot key (0 deletes it). ARGV: instance, key, count, ttl. */
export const SLOT_SET = `
local slots = KEYS[1] .. ':' .. ARGV[1] .. ':slots'
if tonumber(ARGV[3]) > 0 then
  redis.call('HSET', slots, ARGV[2], ARGV[3])
  redis.call('PEXPIRE', slots, ARGV[4])
else
  redis.call('HDEL', slots, ARGV[2])
end
return 'ok'
`;
