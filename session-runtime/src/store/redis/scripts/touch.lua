-- Touch: `KEYS[1]`; `ARGV`: `ttl_ms, ix_json, ix_ms`. Answers 1 (moved), 0
-- (not live) or the user's JSON text (index first; nothing written).
if redis.call('PTTL', KEYS[1]) < 0 then return 0 end
local user = redis.call('HGET', KEYS[1], '@user')
local ok, covered = guard(user, ARGV[1], KEYS[1], ARGV[2], ARGV[3])
if not ok then return user end
if covered then mark(KEYS[1], covered) end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
