-- wrk script: replay pre-generated requests (`path<TAB>body` per line) round-robin.
-- Each wrk thread starts at a different offset so threads do not send the same order.
local requests = {}
local counter = 0
local thread_no = 0

function setup(thread)
  thread:set("offset", thread_no * 100000)
  thread_no = thread_no + 1
end

function init(args)
  for line in io.lines(os.getenv("REPLAY_FILE")) do
    local tab = line:find("\t", 1, true)
    requests[#requests + 1] = { path = line:sub(1, tab - 1), body = line:sub(tab + 1) }
  end
  counter = offset or 0
end

function request()
  counter = counter + 1
  local r = requests[(counter % #requests) + 1]
  return wrk.format("POST", r.path, { ["content-type"] = "application/x-www-form-urlencoded" }, r.body)
end

local statuses = {}
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  io.write(string.format("p50 %.2f ms  p99 %.2f ms  errors %d\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
