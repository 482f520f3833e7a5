-- Bump: `KEYS[1]`; `ARGV`: `(field, delta)*`, each counter starting from 0
-- where it is absent. The save of a change set that only increments and
-- keeps the expiry, without the header `apply` reads and without the
-- index guard, which such a write never needs (see `save.lua`). Answers 1
-- (applied) or 0 (not live: no such key, or a key with no expiry).
if redis.call('PTTL', KEYS[1]) < 0 then return 0 end
for i = 1, #ARGV, 2 do
  increment(KEYS[1], ARGV[i], ARGV[i + 1], '0')
end
return 1
