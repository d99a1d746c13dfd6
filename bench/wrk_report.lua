-- wrk_report.lua: the reused-token mix (and the no-auth rows). Requests are wrk's static request
-- (headers from -H), so the script adds no per-request cost; done() prints one JSON line that
-- bench/gateway.py parses: requests, duration, p50/p99 and the error counts (`non2xx` is wrk's
-- "Non-2xx or 3xx responses" counter, errors.status: every status > 399).

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'WRKJSON {"requests":%d,"duration_us":%d,"non2xx":%d,"connect":%d,"read":%d,"write":%d,' ..
      '"timeout":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,"tokens_used":0,"tokens_available":0}\n',
      summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
      latency:percentile(50), latency:percentile(99), latency.max))
end
