-- wrk script: POSTs one legacy CSP report per request, each with a new blocked URL
-- (so each is a new summary group). Used by bench/load.sh and bench/pg_writers.sh.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/csp-report"
local n = 0
request = function()
  n = n + 1
  local body = '{"csp-report":{"document-uri":"https://app.example/page","referrer":"",' ..
    '"violated-directive":"connect-src","effective-directive":"connect-src",' ..
    '"original-policy":"connect-src \'self\'; report-uri /csp-reports","disposition":"enforce",' ..
    '"blocked-uri":"https://u' .. n .. '.tracker.example/p?id=' .. n .. '","status-code":200,' ..
    '"script-sample":""}}'
  return wrk.format(nil, "/csp-reports", nil, body)
end
