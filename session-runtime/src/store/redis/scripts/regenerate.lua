-- Regenerate on one server: `KEYS[1]` old, `KEYS[2]` new; `ARGV` as in
-- `save.lua`. Answers 1 (applied), 0 (old not live: gone, or with no
-- expiry, so not a session), 2 (new taken) or the user's JSON text (index
-- the new key first; nothing written).
if redis.call('PTTL', KEYS[1]) < 0 then return 0 end
if redis.call('EXISTS', KEYS[2]) == 1 then return 2 end
local ttl = string.match(ARGV[1], '^(%-?%d+)')
local user = user_after(KEYS[1])
local ok, covered = guard(user, ttl, false, ARGV[#ARGV - 1], ARGV[#ARGV])
if not ok then return user end
redis.call('RENAME', KEYS[1], KEYS[2])
mark(KEYS[2], covered)
apply(KEYS[2])
return 1
