-- wrk script for workloads A and G: sends absolute-form requests, as a client
-- configured with an HTTP proxy does. wrk connects to the URL on its command
-- line (the proxy); every request names the origin.
--   BENCH_PATH  the request target, e.g. http://127.0.0.1:8000/ (default: wrk's own path)
--   BENCH_HOST  the Host header, e.g. 127.0.0.1:8000
local path = os.getenv("BENCH_PATH")
local host = os.getenv("BENCH_HOST")
if path and path ~= "" then wrk.path = path end
if host and host ~= "" then wrk.headers["Host"] = host end
