-- Load: `KEYS[1]`. Answers `false` (no such key) or
-- `{field, value, ..., pttl}`: the fields and the remaining time together,
-- in one command, read atomically.
local h = redis.call('HGETALL', KEYS[1])
if #h == 0 then return false end
h[#h + 1] = redis.call('PTTL', KEYS[1])
return h
