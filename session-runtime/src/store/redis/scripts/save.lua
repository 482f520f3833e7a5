-- Save: `KEYS[1]`; `ARGV` as in `LUA_APPLY`, then `ix_json, ix_ms` (see
-- `guard.lua`). Answers 1 (applied), 0 (not live: no such key, or a key
-- with no expiry, which is not a session) or the user's JSON text (index
-- first; nothing written).
--
-- A write that leaves the binding as it is and does not move the expiry
-- later (until `extend_after` has passed, the layer's writes keep the
-- expiry: `ttl_ms` -1) cannot take a session past its index entry: it
-- skips the guard, whose `@ix` would stay as it is.
local left = redis.call('PTTL', KEYS[1])
if left < 0 then return 0 end
local ttl = string.match(ARGV[1], '^(%-?%d+)')
if tonumber(ttl) > left or user_change() then
  local user = user_after(KEYS[1])
  local ok, covered = guard(user, ttl, KEYS[1], ARGV[#ARGV - 1], ARGV[#ARGV])
  if not ok then return user end
  mark(KEYS[1], covered)
end
apply(KEYS[1])
return 1
