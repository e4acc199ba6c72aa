-- Copied from the shared bench harness (/work/shared/bench/wrk/lib.lua), unchanged below.
-- Shared helpers for the scenario scripts. Loaded with dofile() from the
-- directory of the calling script. Everything is configured through
-- environment variables so the same scenario runs against any target.
--
--   TOKEN              bearer token; sent as "<AUTH_SCHEME> <TOKEN>"
--   AUTH_SCHEME        default "Bearer"
--   AUTH_HEADER        default "Authorization"
--   AUTH_HEADER_VALUE  full header value, overrides TOKEN/AUTH_SCHEME
--   EXTRA_HEADERS      optional "Name: value|Name2: value2"
local M = {}

function M.env(name, default)
  local v = os.getenv(name)
  if v == nil or v == "" then return default end
  return v
end

function M.need(name)
  local v = M.env(name, nil)
  if v == nil then
    io.stderr:write("wrk scenario: environment variable " .. name .. " is required\n")
    os.exit(2)
  end
  return v
end

function M.split(s, sep)
  local out = {}
  for part in string.gmatch(s, "([^" .. sep .. "]+)") do
    part = part:gsub("^%s+", ""):gsub("%s+$", "")
    if part ~= "" then out[#out + 1] = part end
  end
  return out
end

function M.headers()
  local h = { ["Accept"] = "application/json" }
  local name = M.env("AUTH_HEADER", "Authorization")
  local full = M.env("AUTH_HEADER_VALUE", nil)
  local tok = M.env("TOKEN", nil)
  if full then
    h[name] = full
  elseif tok then
    h[name] = M.env("AUTH_SCHEME", "Bearer") .. " " .. tok
  end
  local extra = M.env("EXTRA_HEADERS", nil)
  if extra then
    for _, kv in ipairs(M.split(extra, "|")) do
      local k, v = kv:match("^([^:]+):%s*(.*)$")
      if k then h[k] = v end
    end
  end
  return h
end

-- Prints one machine-readable line after wrk's normal (--latency) output.
function M.done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local e = summary.errors
  local function ms(us) return us / 1000.0 end
  local out = string.format(
    '{"requests":%d,"duration_s":%.3f,"rps":%.2f,"bytes":%d,' ..
    '"lat_mean_ms":%.3f,"lat_stdev_ms":%.3f,"lat_max_ms":%.3f,' ..
    '"p50_ms":%.3f,"p75_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"p999_ms":%.3f,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d}',
    summary.requests, secs, summary.requests / secs, summary.bytes,
    ms(latency.mean), ms(latency.stdev), ms(latency.max),
    ms(latency:percentile(50)), ms(latency:percentile(75)), ms(latency:percentile(90)),
    ms(latency:percentile(99)), ms(latency:percentile(99.9)),
    e.connect, e.read, e.write, e.status, e.timeout)
  io.write("WRK_JSON " .. out .. "\n")
end

-- Threads get a distinct id (used by create.lua to build unique slugs).
local next_tid = 0
function M.setup(thread)
  next_tid = next_tid + 1
  thread:set("tid", next_tid)
end

return M
