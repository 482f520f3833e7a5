-- Create, for a session bound to no user: `KEYS[1]`; `ARGV`: `ttl_ms,
-- (field, json)+` (at most 1,000 fields, within what `unpack` can spread).
-- Answers 1 (created) or 0 (taken). The create script without the index
-- guard, which a session with no `@user` field never needs.
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
