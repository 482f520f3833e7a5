-- The per-user index guard, shared by the write scripts. A session bound
-- to a user never outlives its entry in the user's index: the hash field
-- `@ix` holds the instant (ms, this server's clock) until which the index
-- is known to hold it, and a write that would move the session's expiry
-- past that instant, or bind it anew, writes nothing and answers the user's
-- JSON text instead: "index first". The store then adds the session to the
-- index and sends the write again with `ix_json, ix_ms`: the user it
-- indexed and for how long from now.
local IX = '@ix'

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Whether a write leaving a session bound to `user` (false: unbound) with
-- `ttl` ms to live may go on, and the `@ix` to give it then (nil for an
-- unbound session). `from` is the key whose own `@ix` still counts (false
-- when the write moves the session to a new key, which the index does not
-- hold yet).
local function guard(user, ttl, from, ix_json, ix_ms)
  if not user then return true, nil end
  local now = now_ms()
  local covered = nil
  if ix_json == user then covered = now + tonumber(ix_ms) end
  if from then
    local held = redis.call('HMGET', from, '@user', IX)
    local at = held[1] == user and tonumber(held[2])
    if at and (not covered or at > covered) then covered = at end
  end
  if covered and tonumber(ttl) <= covered - now then return true, covered end
  return false, nil
end

-- Records the coverage on the session, before the change set applies (so
-- that removing the last field still leaves the hash as `apply` keeps it).
-- An unbound session without the field writes nothing here: a script's
-- first write decides whether Redis past `maxmemory` refuses it, and that
-- must stay the change set's own.
local function mark(k, covered)
  if covered then
    redis.call('HSET', k, IX, string.format('%.0f', covered))
  elseif redis.call('HEXISTS', k, IX) == 1 then
    redis.call('HDEL', k, IX)
  end
end
