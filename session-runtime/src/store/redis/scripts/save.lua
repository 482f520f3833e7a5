-- Save: `KEYS[1]`; `ARGV` as in `LUA_APPLY`, then `ix_json, ix_ms` (see
-- `guard.lua`). Answers 1 (applied), 0 (not live: no such key, or a key
-- with no expiry, which is not a session) or the user's JSON text (index
-- first; nothing written).
if redis.call('PTTL', KEYS[1]) < 0 then return 0 end
local ttl = string.match(ARGV[1], '^(%-?%d+)')
local user = user_after(KEYS[1])
local ok, covered = guard(user, ttl, KEYS[1], ARGV[#ARGV - 1], ARGV[#ARGV])
if not ok then return user end
mark(KEYS[1], covered)
apply(KEYS[1])
return 1
