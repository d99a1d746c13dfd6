-- fresh_tokens.lua: the fresh-token mix. Every request carries the next token of a pre-signed file of
-- distinct valid RS256 tokens, so a token cache never sees a token twice unless the run outlasts the
-- file; done() reports how many tokens were handed out so bench/gateway.py can print the repeat rate.
-- Each wrk thread starts at its own offset into the file.
--   wrk -t1 -c50 -d10s --latency -s bench/fresh_tokens.lua http://127.0.0.1:PORT/ -- TOKENS.txt THREADS

local threads = {}
local tokens = {}
local next_index = 1
local headers = {}
handed_out = 0
token_count = 0

function setup(thread)
   thread:set("thread_id", #threads)
   table.insert(threads, thread)
end

function init(args)
   local path, thread_total = args[1], tonumber(args[2] or "1")
   if path == nil then
      error("fresh_tokens.lua: pass the token file (and the thread count) after --")
   end
   for line in io.lines(path) do
      if #line > 0 then
         tokens[#tokens + 1] = line
      end
   end
   token_count = #tokens
   if token_count == 0 then
      error("fresh_tokens.lua: no tokens in " .. path)
   end
   next_index = 1 + (thread_id * math.floor(token_count / thread_total)) % token_count
   for name, value in pairs(wrk.headers) do
      headers[name] = value
   end
end

function request()
   headers["Authorization"] = "Bearer " .. tokens[next_index]
   next_index = next_index % token_count + 1
   handed_out = handed_out + 1
   return wrk.format(nil, nil, headers)
end

function done(summary, latency, requests)
   local used = 0
   for _, thread in ipairs(threads) do
      used = used + thread:get("handed_out")
   end
   local e = summary.errors
   io.write(string.format(
      'WRKJSON {"requests":%d,"duration_us":%d,"non2xx":%d,"connect":%d,"read":%d,"write":%d,' ..
      '"timeout":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,"tokens_used":%d,"tokens_available":%d}\n',
      summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
      latency:percentile(50), latency:percentile(99), latency.max, used, threads[1]:get("token_count")))
end
