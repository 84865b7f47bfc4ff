-- POSTs one JSON body on every request: wrk ... -s post_body.lua URL -- <file holding the body>
-- The server assigns a fresh id to each one, so the same body can be sent again and again.

local prepared

function init(args)
   local handle = assert(io.open(args[1], "rb"))
   local body = handle:read("*a")
   handle:close()
   -- Formatted once per thread: building the request in Lua on every call would slow wrk, not the server.
   prepared = wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end

function request()
   return prepared
end
