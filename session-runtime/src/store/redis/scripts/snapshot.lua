-- Cluster regenerate, step 1: `KEYS[1]` old. Answers `false` (gone) or
-- `{digest, pttl, field, value, ...}`.
local h = redis.call('HGETALL', KEYS[1])
if #h == 0 then return false end
local out = { digest(h), redis.call('PTTL', KEYS[1]) }
for i = 1, #h do out[#out + 1] = h[i] end
return out
