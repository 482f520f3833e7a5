-- Create: `KEYS[1]`; `ARGV`: `ttl_ms, (field, json)+`.
-- Answers 1 (created) or 0 (taken).
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local from = 2
while from <= #ARGV do
  local last = math.min(from + 999, #ARGV)
  redis.call('HSET', KEYS[1], unpack(ARGV, from, last))
  from = last + 1
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
