-- Scenario (d): PATCH a workspace with If-Match (optimistic concurrency).
--   PATCH_PATH_TEMPLATE  e.g. /v1/workspaces/{id}
--   PATCH_VERSIONS       "id=version,id=version,..." current versions of the
--                        workspaces to patch (bench/run.sh reads them through
--                        the list API right before every wrk run)
--   PATCH_BODY           JSON; "{{n}}" -> per-thread request counter
--   TOKEN / AUTH_*       see lib.lua
--
-- Requests rotate over the ids, so with more ids than connections no two
-- in-flight requests touch the same workspace. Each 200 answer carries the
-- workspace (id and version) in its body and the new version in its ETag;
-- response() records it, so the next PATCH of that workspace sends the right
-- If-Match. A stale version would answer 412, which wrk counts as an error.
local dir = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
local lib = dofile(dir .. "lib.lua")

local ids, version, paths, h, body_l, body_r = {}, {}, {}, nil, "", ""
local i, n = 0, 0

function init(args)
  local tmpl = lib.need("PATCH_PATH_TEMPLATE")
  for _, kv in ipairs(lib.split(lib.need("PATCH_VERSIONS"), ",")) do
    local id, v = kv:match("^([^=]+)=(%d+)$")
    if id then
      ids[#ids + 1] = id
      version[id] = tonumber(v)
      paths[id] = (tmpl:gsub("{id}", id))
    end
  end
  h = lib.headers()
  h["Content-Type"] = "application/json"
  local body = lib.env("PATCH_BODY", '{"description":"patched by wrk {{n}}"}')
  body_l, body_r = body:match("^(.-){{n}}(.*)$")
  if not body_l then body_l, body_r = body, nil end
  i = ((tid or 1) * 7) % #ids
end

function request()
  i = i % #ids + 1
  n = n + 1
  local id = ids[i]
  h["If-Match"] = '"' .. version[id] .. '"'
  local body = body_r and (body_l .. n .. body_r) or body_l
  return wrk.format("PATCH", paths[id], h, body)
end

function response(status, headers, body)
  if status ~= 200 then return end
  local id = body:match('"id"%s*:%s*"([^"]+)"')
  local etag = headers["ETag"] or headers["etag"] or ""
  local v = tonumber(etag:match("(%d+)") or "")
    or tonumber(body:match('"version"%s*:%s*(%d+)') or "")
  if id and v and version[id] and v > version[id] then version[id] = v end
end

setup = lib.setup
done = lib.done
