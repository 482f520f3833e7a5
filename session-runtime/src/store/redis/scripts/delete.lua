-- Delete: `KEYS[1]`. Answers the user's JSON text the session was bound
-- to (so its index entry can go too), or nil.
local user = redis.call('HGET', KEYS[1], '@user')
redis.call('DEL', KEYS[1])
return user
