-- Create: `KEYS[1]`; `ARGV`: `ttl_ms, ix_json, ix_ms, (field, json)+`.
-- Answers 1 (created), 0 (taken) or the user's JSON text (index first;
-- nothing written).
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local user = false
for i = 4, #ARGV - 1, 2 do
  if ARGV[i] == '@user' then user = ARGV[i + 1] end
end
local ok, covered = guard(user, ARGV[1], false, ARGV[2], ARGV[3])
if not ok then return user end
local from = 4
while from <= #ARGV do
  local last = math.min(from + 999, #ARGV)
  redis.call('HSET', KEYS[1], unpack(ARGV, from, last))
  from = last + 1
end
if covered then mark(KEYS[1], covered) end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
