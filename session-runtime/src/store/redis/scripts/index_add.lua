-- Index add: `KEYS[1]` the user's index (a sorted set of session key
-- digests, each scored by the instant, ms on this server's clock, until
-- which the index holds it); `ARGV`: `member, hold_ms`. Drops the members
-- whose hold has passed (their sessions have expired: a session never
-- outlives its hold), holds `member` for at least `hold_ms` from now, and
-- keeps the index key itself alive as long as its longest hold.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. string.format('%.0f', now))
local hold = tonumber(ARGV[2])
local score = now + hold
local held = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]))
if not held or held < score then
  redis.call('ZADD', KEYS[1], string.format('%.0f', score), ARGV[1])
end
if redis.call('PTTL', KEYS[1]) < hold then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
