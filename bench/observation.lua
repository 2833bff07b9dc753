-- wrk script: POSTs one inventory report per request, as a sampled page's report-only
-- `connect-src 'none'` sends it (its report URL carries csp-inventory=<page-load id> and
-- csp-sample=0.01): four connections per page load, to eight destinations in turn. The
-- collector stores each as an observation, not a violation. Used by bench/load.sh.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/csp-report"
local dests = {
  "https://app.example/api/cart", "https://api.app.example/v1/orders",
  "wss://ws.app.example/live", "https://cdn.app.example/img/1.png",
  "https://telemetry.app.example/b", "https://api.payments.example/session",
  "https://maps.example/tiles/1", "wss://chat.app.example/socket",
}
local n = 0
request = function()
  n = n + 1
  local query = string.format("csp-inventory=%016x&csp-sample=0.01", 4096 + math.floor(n / 4))
  local body = '{"csp-report":{"document-uri":"https://app.example/orders/' .. n .. '","referrer":"",' ..
    '"violated-directive":"connect-src","effective-directive":"connect-src",' ..
    '"original-policy":"connect-src \'none\'; report-uri /csp-reports?' .. query .. '",' ..
    '"disposition":"report","blocked-uri":"' .. dests[(n % #dests) + 1] .. '",' ..
    '"status-code":200,"script-sample":""}}'
  return wrk.format(nil, "/csp-reports?" .. query, nil, body)
end
