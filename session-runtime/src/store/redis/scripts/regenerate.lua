-- Regenerate on one server: `KEYS[1]` old, `KEYS[2]` new; `ARGV` as in
-- `LUA_APPLY`. Answers 1 (applied), 0 (old not live: gone, or with no
-- expiry, so not a session) or 2 (new taken).
if redis.call('PTTL', KEYS[1]) < 0 then return 0 end
if redis.call('EXISTS', KEYS[2]) == 1 then return 2 end
redis.call('RENAME', KEYS[1], KEYS[2])
apply(KEYS[2])
return 1
