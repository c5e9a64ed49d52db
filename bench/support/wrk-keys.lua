-- wrk-keys.lua: wrk asks the API for the bench's keys in turn (bench-0 .. bench-N-1),
-- N from the script's argument, as the undici client does.
local n = 100
local i = 0
function init(args)
  if args[1] then n = tonumber(args[1]) end
end
function request()
  i = (i + 1) % n
  return wrk.format("GET", "/api?key=bench-" .. i)
end
