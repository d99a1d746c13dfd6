-- ingress_mix.lua: what an ingress sees. Each request comes from one of K clients picked at random: it
-- carries that client's token (each client reuses its own token, as real clients do), a path
-- /api/v1/items/<1..100000>?page=<1..20>, a fresh W3C traceparent, Accept and that client's User-Agent.
-- No two requests are byte-identical, so nothing that only pays when bytes repeat can help.
-- With `fresh` as the third argument every request takes the next token of the file instead (each token
-- used once while the file lasts): the fresh-token mix, with the same paths and headers.
--   wrk -t1 -c50 -d10s --latency -s bench/ingress_mix.lua http://127.0.0.1:PORT/ -- TOKENS.txt THREADS [fresh]

local threads = {}
local tokens = {}
local agents = {}
local fresh = false
local next_index = 1
handed_out = 0
token_count = 0

function setup(thread)
   thread:set("thread_id", #threads)
   table.insert(threads, thread)
end

function init(args)
   local path, thread_total = args[1], tonumber(args[2] or "1")
   fresh = args[3] == "fresh"
   if path == nil then
      error("ingress_mix.lua: pass the token file (and the thread count) after --")
   end
   for line in io.lines(path) do
      if #line > 0 then
         tokens[#tokens + 1] = "Bearer " .. line
         agents[#agents + 1] = string.format("client-%d/1.%d (bench; +https://example.test)", #tokens, #tokens % 7)
      end
   end
   token_count = #tokens
   if token_count == 0 then
      error("ingress_mix.lua: no tokens in " .. path)
   end
   next_index = 1 + (thread_id * math.floor(token_count / thread_total)) % token_count
   math.randomseed(os.time() + thread_id * 7919)
end

local function hex(n)
   local out = {}
   for i = 1, n / 8 do
      out[i] = string.format("%08x", math.random(0, 0x7fffffff) * 2 + math.random(0, 1))
   end
   return table.concat(out)
end

function request()
   local client
   if fresh then
      client = next_index
      next_index = next_index % token_count + 1
   else
      client = math.random(1, token_count)
   end
   handed_out = handed_out + 1
   local path = string.format("/api/v1/items/%d?page=%d", math.random(1, 100000), math.random(1, 20))
   local headers = {
      ["Authorization"] = tokens[client],
      ["traceparent"] = "00-" .. hex(32) .. "-" .. hex(16) .. "-01",
      ["Accept"] = "application/json",
      ["User-Agent"] = agents[client],
   }
   return wrk.format("GET", path, headers)
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
