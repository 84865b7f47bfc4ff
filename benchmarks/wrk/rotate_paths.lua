-- GETs <prefix><line> for each line of a file, in turn: wrk ... -s rotate_paths.lua URL -- <file> <prefix>
-- e.g. prefix /tmf-api/resourceInventoryManagement/v5/resource/ and a file of resource ids.

local thread_count = 0

function setup(thread)
   thread:set("thread_index", thread_count)
   thread_count = thread_count + 1
end

local requests = {}
local position = 0

function init(args)
   local prefix = args[2] or ""
   for line in io.lines(args[1]) do
      if #line > 0 then
         requests[#requests + 1] = wrk.format("GET", prefix .. line)
      end
   end
   assert(#requests > 0, "no paths in " .. args[1])
   -- Threads start at different places so they do not ask for the same rows at the same moment.
   position = ((thread_index or 0) * 7919) % #requests
end

function request()
   position = position % #requests + 1
   return requests[position]
end
