-- Lua shared by the write scripts: the `i64` rule of `Increment::apply_to`
-- and applying a change set laid out in `ARGV` as
-- `"ttl_ms n_sets n_removals n_increments", (field, json)*, field*,
-- (field, "delta" | "delta,initial")*` (an `initial` of 0 is left out).
-- `ttl_ms` is the time left, relative: Redis's own clock starts it; `-1`
-- leaves the key's expiry as it is.
local MAX, MIN = '9223372036854775807', '-9223372036854775808'

local function trim(s)
  -- What Rust's `char::is_whitespace` trims, in UTF-8.
  local WS = { ' ', '\t', '\n', '\v', '\f', '\r', '\194\133', '\194\160', '\225\154\128',
    '\226\128\128', '\226\128\129', '\226\128\130', '\226\128\131', '\226\128\132',
    '\226\128\133', '\226\128\134', '\226\128\135', '\226\128\136', '\226\128\137',
    '\226\128\138', '\226\128\168', '\226\128\169', '\226\128\175', '\226\129\159',
    '\227\128\128' }
  local again = true
  while again do
    again = false
    for _, w in ipairs(WS) do
      local n = #w
      if #s >= n and string.sub(s, 1, n) == w then s = string.sub(s, n + 1); again = true end
      if #s >= n and string.sub(s, #s - n + 1) == w then s = string.sub(s, 1, #s - n); again = true end
    end
  end
  return s
end

-- The canonical text of `s` read as an i64 the way Rust's
-- `s.trim().parse::<i64>()` reads it, or nil. Never a Lua number.
local function int64(s)
  if not s then return nil end
  if (#s < 19 and string.find(s, '^%-?[1-9]%d*$')) or s == '0' then return s end
  local sign, digits = string.match(trim(s), '^([+-]?)(%d+)$')
  if not digits then return nil end
  digits = string.match(digits, '^0*(%d*)$')
  if digits == '' then return '0' end
  local limit = (sign == '-') and '9223372036854775808' or '9223372036854775807'
  if #digits > 19 then return nil end
  if #digits == 19 then
    for i = 1, 19 do
      local a, b = string.byte(digits, i), string.byte(limit, i)
      if a < b then break end
      if a > b then return nil end
    end
  end
  if sign == '-' then return '-' .. digits end
  return digits
end

local function increment(k, f, delta, initial)
  -- The common case in one command: a stored integer in Redis's own (and
  -- canonical) form, or an absent field where `initial` is 0. Anything
  -- else (text, a non-canonical integer, an overflow) is an error here and
  -- takes the careful path.
  if initial == '0' then
    local r = redis.pcall('HINCRBY', k, f, delta)
    if type(r) ~= 'table' or not r.err then return end
  end
  local stored = redis.call('HGET', k, f)
  local base = int64(stored) or initial
  if base ~= stored then redis.call('HSET', k, f, base) end
  local r = redis.pcall('HINCRBY', k, f, delta)
  if type(r) == 'table' and r.err then
    if string.sub(delta, 1, 1) == '-' then
      redis.call('HSET', k, f, MIN)
    else
      redis.call('HSET', k, f, MAX)
    end
  end
end

-- Runs `cmd k ARGV[from..to]` in chunks of `step` arguments, within what
-- `unpack` can spread.
local function each(cmd, k, from, to, step)
  while from <= to do
    local last = math.min(from + step - 1, to)
    redis.call(cmd, k, unpack(ARGV, from, last))
    from = last + 1
  end
end

local function apply(k)
  local ttl, ns, nr, ni = string.match(ARGV[1], '^(%-?%d+) (%d+) (%d+) (%d+)$')
  ns, nr, ni = tonumber(ns), tonumber(nr), tonumber(ni)
  local i = 2
  each('HSET', k, i, i + 2 * ns - 1, 1000)
  i = i + 2 * ns
  each('HDEL', k, i, i + nr - 1, 1000)
  i = i + nr
  for _ = 1, ni do
    local delta, initial = string.match(ARGV[i + 1], '^([^,]+),?(.*)$')
    if initial == '' then initial = '0' end
    increment(k, ARGV[i], delta, initial)
    i = i + 2
  end
  if nr > 0 and redis.call('HLEN', k) == 0 then redis.call('HSET', k, '', '') end
  if ttl ~= '-1' then redis.call('PEXPIRE', k, ttl) end
end

-- Whether the change set in `ARGV` sets or removes `@user`, and the user
-- (its JSON text) it leaves: the one it sets, or false.
local function user_change()
  local ns, nr = string.match(ARGV[1], '^%-?%d+ (%d+) (%d+)')
  ns, nr = tonumber(ns), tonumber(nr)
  for i = 2, 2 * ns, 2 do
    if ARGV[i] == '@user' then return true, ARGV[i + 1] end
  end
  for i = 2 + 2 * ns, 1 + 2 * ns + nr do
    if ARGV[i] == '@user' then return true, false end
  end
  return false, false
end

-- The user (its JSON text) the session under `k` is bound to once the
-- change set in `ARGV` applies, or false: the change set's own `@user`
-- when it sets or removes it, else what the session holds.
local function user_after(k)
  local changed, user = user_change()
  if changed then return user end
  return redis.call('HGET', k, '@user')
end
