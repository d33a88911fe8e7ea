-- One wrk scenario, configured by environment variables set by benchmarks/run.py:
--   BENCH_OP     which request to build
--   BENCH_TOKEN  bearer token; BENCH_BASE  SCIM base path (/scim/v2/organizations/<uid>)
--   BENCH_ARGS   comma-separated values the op cycles through (usernames, ids)
dofile(os.getenv("BENCH_DIR") .. "/wrk_report.lua")

local op = os.getenv("BENCH_OP")
local token = os.getenv("BENCH_TOKEN") or ""
local base = os.getenv("BENCH_BASE") or ""
local args = {}
for v in string.gmatch(os.getenv("BENCH_ARGS") or "", "([^,]+)") do table.insert(args, v) end
local extra = {}
for v in string.gmatch(os.getenv("BENCH_EXTRA") or "", "([^,]+)") do table.insert(extra, v) end
local counter = 0
-- Each wrk thread has its own Lua state; setup() gives each a distinct tag so
-- POSTed userNames never collide across threads or runs.
local thread_count = 0
thread_tag = "t"
function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_tag", tostring(os.time()) .. "-" .. thread_count)
end

local function headers()
  return {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/scim+json",
          ["Accept"] = "application/scim+json"}
end

local function urlencode(s)
  return (string.gsub(s, "([^%w%-%.%_%~])", function(c) return string.format("%%%02X", string.byte(c)) end))
end

-- `counter` counts this thread's requests (request() adds one); pick walks the list.
local function pick(list) return list[(counter % #list) + 1] end

request = function()
  counter = counter + 1
  if op == "bare" then
    return wrk.format("GET", "/healthz")
  elseif op == "bare_db" then
    return wrk.format("GET", "/readyz")
  elseif op == "connector_test" then
    return wrk.format("GET", base .. "/Users?startIndex=1&count=2", headers())
  elseif op == "username_lookup" then
    local f = urlencode('userName eq "' .. pick(args) .. '"')
    return wrk.format("GET", base .. "/Users?filter=" .. f .. "&startIndex=1&count=100", headers())
  elseif op == "externalid_lookup" then
    local f = urlencode('externalId eq "' .. pick(args) .. '"')
    return wrk.format("GET", base .. "/Users?filter=" .. f .. "&startIndex=1&count=100", headers())
  elseif op == "get_user" then
    return wrk.format("GET", base .. "/Users/" .. pick(args), headers())
  elseif op == "post_user" or op == "post_user_no_invite" then
    local u = "new-" .. thread_tag .. "-" .. counter .. "@load.example"
    local body = '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"' .. u ..
      '","name":{"givenName":"Load","familyName":"Test"},"emails":[{"primary":true,"value":"' .. u ..
      '","type":"work"}],"displayName":"Load Test","active":true}'
    return wrk.format("POST", base .. "/Users", headers(), body)
  elseif op == "put_user" then
    local id = pick(args)
    local u = "u-put-" .. id .. "@bench.example"
    local body = '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"' .. id .. '","userName":"' .. u ..
      '","name":{"givenName":"Put","familyName":"N' .. counter .. '"},"emails":[{"primary":true,"value":"' .. u ..
      '","type":"work"}],"displayName":"Put ' .. counter .. '","active":true}'
    return wrk.format("PUT", base .. "/Users/" .. id, headers(), body)
  elseif op == "patch_deactivate" then
    -- Every request changes the user: the first pass over the list deactivates,
    -- the next reactivates, and so on (a repeated active:false would change nothing).
    local active = (math.floor(counter / #args) % 2 == 1) and "true" or "false"
    local body = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":' ..
      active .. '}}]}'
    return wrk.format("PATCH", base .. "/Users/" .. pick(args), headers(), body)
  elseif op == "group_patch_100" or op == "group_patch_100_mapped" then
    -- Alternate: add 100 members, then remove the same 100 (Okta's two forms).
    local group = extra[1]
    local members = {}
    for i = 1, math.min(100, #args) do table.insert(members, '{"value":"' .. args[i] .. '"}') end
    local body
    if counter % 2 == 0 then
      body = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[' ..
        table.concat(members, ",") .. ']}]}'
    else
      body = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members","value":[' ..
        table.concat(members, ",") .. ']}]}'
    end
    return wrk.format("PATCH", base .. "/Groups/" .. group, headers(), body)
  elseif op == "big_group_no_members" then
    return wrk.format("GET", base .. "/Groups/" .. extra[1] .. "?excludedAttributes=members", headers())
  end
  error("unknown BENCH_OP " .. tostring(op))
end
