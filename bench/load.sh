#!/usr/bin/env bash
# Loopback load test: requests/s of the same app without and with the layer, and of the
# report collector against a handler that only answers 204. Targets 127.0.0.1 only, runs a
# fixed duration per run, stops by itself (about 4 minutes in all with the defaults).
# Each case runs once per round, the cases alternating, and keeps its best run: wall-clock
# throughput on this shared 2-core machine swings about 10% from run to run.
#   bash bench/load.sh [seconds-per-run] [rounds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-8}"
rounds="${2:-3}"
conns="${3:-32}"
threads=1        # wrk threads: one core for the load, one for the server (2-core machine)
port=3101

command -v wrk >/dev/null 2>&1 || {
  sudo_=""; [ "$(id -u)" -eq 0 ] || sudo_="sudo"
  $sudo_ apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq wrk >/dev/null
}
cargo build --release --features sqlite --example load_server -q
bin=target/release/examples/load_server

server_pid=""
stop() { if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi; server_pid=""; }
# The SQLite cases' databases (one per server run), removed at the end.
CONNECT_SRC_LOAD_DIR=$(mktemp -d); export CONNECT_SRC_LOAD_DIR
trap 'stop; rm -rf "$CONNECT_SRC_LOAD_DIR"' EXIT

start() { # mode
  "$bin" "$1" "$port" >/dev/null &
  server_pid=$!
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "server $1 did not start" >&2; exit 1
}

rps() { # url [lua]
  local extra=()
  [ $# -ge 2 ] && extra=(-s "$2")
  wrk -t"$threads" -c"$conns" -d"${secs}s" "${extra[@]}" "$1" | awk '/Requests\/sec/ {print $2}'
}

peak_rss_mib() { awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$server_pid/status"; }

declare -A R
best() { # url lua-or-"" mode...: each mode once per round, alternating; R[mode] = best run
  local url=$1 script=$2 round mode r; shift 2
  for round in $(seq 1 "$rounds"); do
    for mode in "$@"; do
      start "$mode"; r=$(rps "$url" ${script:+"$script"}); stop
      R[$mode]=$(awk -v a="${R[$mode]:-0}" -v b="$r" 'BEGIN { print (b > a) ? b : a }')
    done
  done
}

best "http://127.0.0.1:$port/" "" plain tower-http layer

lua=$(mktemp --suffix=.lua)
cat >"$lua" <<'LUA'
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
LUA
# Every SQLite run starts from an empty database.
best "http://127.0.0.1:$port/csp-reports" "$lua" \
  report-204 collector-memory collector-sqlite collector-sqlite-process

# Peak RSS of the memory-sink collector under a flood of unique blocked URLs: 30 s of
# reports as fast as they go (well over 1,000,000 here), then the count wrk sent.
start collector-memory
rss_start=$(peak_rss_mib)
flood=$(wrk -t"$threads" -c"$conns" -d30s -s "$lua" "http://127.0.0.1:$port/csp-reports" | awk '/requests in/ {print $1}')
rss_peak=$(peak_rss_mib)
stop
rm -f "$lua"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); wrk -t$threads -c$conns -d${secs}s, best of $rounds"
printf "%-40s %12s %8s\n" "case" "req/s" "ratio"
printf "%-40s %12s %8s\n" "app, no layer" "${R[plain]}" "1.000"
printf "%-40s %12s %8s\n" "app, tower-http static header" "${R[tower-http]}" "$(ratio "${R[tower-http]}" "${R[plain]}")"
printf "%-40s %12s %8s\n" "app, connect-src layer" "${R[layer]}" "$(ratio "${R[layer]}" "${R[plain]}")"
printf "%-40s %12s %8s\n" "  layer vs tower-http" "" "$(ratio "${R[layer]}" "${R[tower-http]}")"
printf "%-40s %12s %8s\n" "POST report, 204 handler (floor)" "${R[report-204]}" "1.000"
printf "%-40s %12s %8s\n" "collector, memory sink" "${R[collector-memory]}" "$(ratio "${R[collector-memory]}" "${R[report-204]}")"
printf "%-40s %12s %8s\n" "collector, SQLite, PowerLoss (FULL)" "${R[collector-sqlite]}" "$(ratio "${R[collector-sqlite]}" "${R[report-204]}")"
printf "%-40s %12s %8s\n" "collector, SQLite, ProcessCrash (NORMAL)" "${R[collector-sqlite-process]}" "$(ratio "${R[collector-sqlite-process]}" "${R[report-204]}")"
echo "memory sink: ${flood} unique-URL reports in 30 s; peak RSS ${rss_peak} MiB (at start ${rss_start} MiB)"
