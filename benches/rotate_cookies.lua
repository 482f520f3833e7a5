-- wrk script for benches/scale_http.sh: each request carries the next
-- cookie of a file (one `Cookie` header value a line), so returning
-- visitors are spread over many sessions. Each wrk thread starts at its own
-- place in the list.
--
--   wrk -s benches/rotate_cookies.lua http://127.0.0.1:39411/ -- cookies.txt

local threads = 0

function setup(thread)
    thread:set("offset", threads)
    threads = threads + 1
end

local cookies = {}
local next_cookie = 0

function init(args)
    for line in io.lines(args[1]) do
        if line ~= "" then
            cookies[#cookies + 1] = line
        end
    end
    assert(#cookies > 0, "no cookies in " .. args[1])
    next_cookie = (offset or 0) * 7919 % #cookies
end

function request()
    next_cookie = next_cookie % #cookies + 1
    return wrk.format(nil, nil, { ["Cookie"] = cookies[next_cookie] })
end
