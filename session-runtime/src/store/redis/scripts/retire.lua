-- Cluster regenerate, step 3: `KEYS[1]` old; `ARGV[1]` the digest of step 1.
-- Answers 1 (deleted), 0 (gone) or 2 (changed meanwhile).
local h = redis.call('HGETALL', KEYS[1])
if #h == 0 then return 0 end
if digest(h) ~= ARGV[1] then return 2 end
redis.call('DEL', KEYS[1])
return 1
