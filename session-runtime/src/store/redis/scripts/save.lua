-- Save: `KEYS[1]`; `ARGV` as in `LUA_APPLY`. Answers 1 (applied) or 0 (not
-- live: no such key, or a key with no expiry, which is not a session).
if redis.call('PTTL', KEYS[1]) < 0 then return 0 end
apply(KEYS[1])
return 1
