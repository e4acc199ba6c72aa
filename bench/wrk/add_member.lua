-- Scenario (e): add a member, POST /v1/workspaces/{id}/members {user_id, role}.
--   MEMBER_PATH_TEMPLATE  e.g. /v1/workspaces/{id}/members
--   MEMBER_WS_IDS         workspaces the token's user may add members to
--   MEMBER_USER_IDS       users that belong to none of them (seeded "spare" users)
--   MEMBER_OFFSET         pairs already used by earlier runs (bench/run.sh keeps
--                         the count in MEMBER_STATE between runs)
--   MEMBER_STATE          file that done() rewrites with offset + requests sent
--
-- Request k (k = offset + per-thread counter) adds user k div #ws to
-- workspace k mod #ws: every (workspace, user) pair is new, so each request
-- is a real insert (201), until #ws * #users pairs are used up.
local dir = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
local lib = dofile(dir .. "lib.lua")

local ws, users, tmpl, h, offset = {}, {}, nil, nil, 0
-- global, not local: done() reads it from each thread with thread:get()
sent = 0

function init(args)
  tmpl = lib.need("MEMBER_PATH_TEMPLATE")
  ws = lib.split(lib.need("MEMBER_WS_IDS"), ",")
  users = lib.split(lib.need("MEMBER_USER_IDS"), ",")
  offset = tonumber(lib.env("MEMBER_OFFSET", "0"))
  h = lib.headers()
  h["Content-Type"] = "application/json"
end

function request()
  local k = offset + sent
  sent = sent + 1
  local w = ws[k % #ws + 1]
  local u = users[math.floor(k / #ws) % #users + 1]
  return wrk.format("POST", (tmpl:gsub("{id}", w)), h,
    '{"user_id":"' .. u .. '","role":"member"}')
end

-- wrk runs done() in the main Lua state: collect the threads' counters there.
local threads = {}
function setup(thread)
  lib.setup(thread)
  threads[#threads + 1] = thread
end

function done(summary, latency, requests)
  lib.done(summary, latency, requests)
  local state = lib.env("MEMBER_STATE", nil)
  if state then
    -- init() ran in the threads only: read the offset here again.
    local total = tonumber(lib.env("MEMBER_OFFSET", "0"))
    for _, t in ipairs(threads) do total = total + (t:get("sent") or 0) end
    local f = io.open(state, "w")
    f:write(tostring(total) .. "\n")
    f:close()
  end
end
