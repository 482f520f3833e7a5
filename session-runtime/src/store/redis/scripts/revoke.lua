-- Revoke: `KEYS[1]`; `ARGV[1]` the user's JSON text. Deletes the session
-- if it is still bound to that user; answers 1 if it was live, else 0.
if redis.call('HGET', KEYS[1], '@user') ~= ARGV[1] then return 0 end
local live = redis.call('PTTL', KEYS[1]) >= 0
redis.call('DEL', KEYS[1])
if live then return 1 end
return 0
