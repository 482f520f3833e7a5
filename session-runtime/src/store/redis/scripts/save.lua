-- Save: `KEYS[1]`; `ARGV` as in `LUA_APPLY`. Answers 1 (applied) or 0 (not
-- live).
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
apply(KEYS[1])
return 1
