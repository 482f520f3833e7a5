-- Index read: `KEYS[1]` the user's index. Drops the members whose hold has
-- passed and answers the others.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. string.format('%.0f', now))
return redis.call('ZRANGE', KEYS[1], 0, -1)
