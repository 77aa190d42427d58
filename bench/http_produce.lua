-- wrk script for bench/http.sh: every request POSTs one batch of records to a topic's
-- /records resource as {"records":[{"key":"k0","value":"<S bytes>"}, ...]} (application/json).
--
--   wrk -t T -c C -d D -s bench/http_produce.lua URL/topics/TOPIC/records -- [RECORDS [SIZE [MAX]]]
--
-- RECORDS records per request (default 100), SIZE bytes per value (default 1024, printable
-- ASCII, sent as a JSON string and stored as those bytes), MAX responses per thread after which
-- that thread stops (default 0: run for the whole duration). With MAX and one connection per
-- thread nothing is left in flight at the end, so the records stored are exactly the ones
-- acknowledged (the integration test checks that).
--
-- At the end one JSON line goes to stdout: responses by class, records acknowledged (counted
-- from the "offset" members of the 2xx answers), socket errors, request latency quantiles and the
-- rates over wrk's measured duration.

-- Globals, set per thread by init(); done() reads them back with thread:get().
records, size, max_responses = 100, 1024, 0

-- Built once per thread in init(); with no request() function wrk formats the request once and
-- sends the same bytes every time (its static mode).
local function make_body(n, s)
    local value = string.rep("v", s)
    local parts = {}
    for i = 0, n - 1 do
        parts[#parts + 1] = string.format('{"key":"k%d","value":"%s"}', i, value)
    end
    return '{"records":[' .. table.concat(parts, ",") .. "]}"
end

local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

-- Per-thread counters: globals, so that done() can read them with thread:get().
ok, non_2xx, acked, first_bad = 0, 0, 0, ""

function init(args)
    records = tonumber(args[1]) or records
    size = tonumber(args[2]) or size
    max_responses = tonumber(args[3]) or max_responses
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/json"
    wrk.body = make_body(records, size)
end

function response(status, headers, body)
    if status >= 200 and status < 300 then
        ok = ok + 1
        local _, n = string.gsub(body, '"offset"', "")
        acked = acked + n
    else
        non_2xx = non_2xx + 1
        if first_bad == "" then
            first_bad = status .. " " .. string.sub(body, 1, 200)
        end
    end
    if max_responses > 0 and ok + non_2xx >= max_responses then
        wrk.thread:stop()
    end
end

local function json_string(s)
    s = string.gsub(s, '[%c"\\]', function(c)
        return string.format("\\u%04x", string.byte(c))
    end)
    return '"' .. s .. '"'
end

function done(summary, latency, requests)
    local t_ok, t_bad, t_acked, bad = 0, 0, 0, ""
    records, size = threads[1]:get("records"), threads[1]:get("size")
    for _, thread in ipairs(threads) do
        t_ok = t_ok + thread:get("ok")
        t_bad = t_bad + thread:get("non_2xx")
        t_acked = t_acked + thread:get("acked")
        if bad == "" then
            bad = thread:get("first_bad")
        end
    end
    local secs = summary.duration / 1e6
    local e = summary.errors
    io.write(string.format(
        '{"tool":"wrk","records_per_request":%d,"value_size":%d,"responses":%d,"ok":%d,' ..
        '"non_2xx":%d,"first_non_2xx":%s,"socket_errors":%d,"records_acked":%d,' ..
        '"bytes_read":%d,"secs":%.3f,"requests_per_s":%.1f,"records_per_s":%.1f,' ..
        '"mb_per_s":%.2f,"p50_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f}\n',
        records, size, summary.requests, t_ok, t_bad, json_string(bad),
        e.connect + e.read + e.write + e.timeout, t_acked, summary.bytes, secs,
        t_ok / secs, t_acked / secs, t_acked * size / secs / 1e6,
        latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
