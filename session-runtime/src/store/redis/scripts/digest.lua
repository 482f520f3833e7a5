-- A digest of a hash's fields, independent of their order.
local function digest(h)
  local names = {}
  local values = {}
  for i = 1, #h, 2 do
    names[#names + 1] = h[i]
    values[h[i]] = h[i + 1]
  end
  table.sort(names)
  local parts = {}
  for _, n in ipairs(names) do
    parts[#parts + 1] = #n .. ':' .. n .. #values[n] .. ':' .. values[n]
  end
  return redis.sha1hex(table.concat(parts))
end
