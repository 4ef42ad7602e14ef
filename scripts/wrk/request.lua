-- wrk script for make bench: rotates bearer tokens over many users (so per-user
-- limits do not shape the figure), gives every POST a unique body, and prints one
-- JSON summary line at the end. Settings come from the environment:
-- BENCH_METHOD, BENCH_PATH, BENCH_TOKENS (comma-separated), BENCH_POST_PREFIX, and
-- optionally BENCH_MIX ("METHOD PATH WEIGHT;..."): a mix of calls, each taking its
-- weight's share of the requests, spread evenly (smooth weighted round robin, as
-- scripts/bench_open.py's interleave does).
local method = os.getenv("BENCH_METHOD") or "GET"
local path = os.getenv("BENCH_PATH") or "/"
local prefix = os.getenv("BENCH_POST_PREFIX") or "https://example.com/wrk/"
local tokens = {}
for token in string.gmatch(os.getenv("BENCH_TOKENS") or "", "[^,]+") do
  tokens[#tokens + 1] = "Bearer " .. token
end

local calls = {}
for m, p, w in string.gmatch(os.getenv("BENCH_MIX") or "", "(%u+) (%S+) (%d+)") do
  calls[#calls + 1] = {method = m, path = p, weight = tonumber(w)}
end
if #calls == 0 then
  calls[1] = {method = method, path = path, weight = 1}
end
local cycle = {}
do
  local total, current = 0, {}
  for i, call in ipairs(calls) do
    total = total + call.weight
    current[i] = 0
  end
  for _ = 1, total do
    local best = 1
    for i, call in ipairs(calls) do
      current[i] = current[i] + call.weight
      if current[i] > current[best] then best = i end
    end
    current[best] = current[best] - total
    cycle[#cycle + 1] = calls[best]
  end
end

local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("thread_id", #threads)
  threads[#threads + 1] = thread
end

function request()
  counter = counter + 1
  local call = cycle[(counter % #cycle) + 1]
  local headers = {}
  if #tokens > 0 then
    headers["Authorization"] = tokens[(counter % #tokens) + 1]
  end
  local body = nil
  if call.method == "POST" then
    headers["Content-Type"] = "application/json"
    body = string.format('{"url": "%s%d-%d-%d"}', prefix, thread_id, counter, math.random(1, 1000000000))
  end
  return wrk.format(call.method, call.path, headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\nWRK_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"status_errors": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.status, e.connect + e.read + e.write + e.timeout))
end
