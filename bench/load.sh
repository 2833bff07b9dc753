#!/usr/bin/env bash
# Loopback load test: requests/s of the same app without and with the layer, and of the
# report collector against a handler that only answers 204; the PostgreSQL sink also
# against a bare loop writing the same rows in the same batch sizes (examples/pg_floor.rs),
# and each collector's CPU per report. Targets 127.0.0.1 only, runs a fixed duration per
# run, stops by itself (about 7 minutes in all with the defaults).
# Each case runs once per round, the cases alternating, and keeps its best run: wall-clock
# throughput on this shared 2-core machine swings about 10% from run to run. The inventory's
# observations (bench/observation.lua) run against the same 204 floor; with
# CONNECT_SRC_LOAD_ONLY=observations only those rows run (about 2 minutes, no PostgreSQL).
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
cargo build --release --features sqlite,postgres --example load_server --example pg_floor -q
bin=target/release/examples/load_server
floor_bin=target/release/examples/pg_floor

only="${CONNECT_SRC_LOAD_ONLY:-all}"
pg_port=3102
if [ "$only" = observations ]; then pg_stop() { :; }; else . bench/pg_cluster.sh; fi
# CPU time (clock ticks) of the postmaster and its children (the backends).
pg_ticks() { local p t=0; for p in $pg_pid $(pgrep -P "$pg_pid"); do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo $t; }

server_pid=""
stop() { if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi; server_pid=""; }
# The SQLite cases' databases (one per server run), removed at the end.
CONNECT_SRC_LOAD_DIR=$(mktemp -d); export CONNECT_SRC_LOAD_DIR
trap 'stop; rm -rf "$CONNECT_SRC_LOAD_DIR"; pg_stop' EXIT

start() { # mode
  [ "$1" = collector-postgres ] && new_db
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

ticks() { awk '{print $14 + $15}' "/proc/$server_pid/stat"; }
hz=$(getconf CLK_TCK)
declare -A R CPU PGCPU BATCH
best() { # url lua-or-"" mode...: each mode once per round, alternating; R[mode$tag] = best run
  # CPU[mode$tag]: the collector process's CPU µs per request in that run; for
  # collector-postgres also PostgreSQL's (PGCPU) and the mean rows per commit (BATCH).
  # $tag (empty unless set) tells apart the same mode under another script.
  local url=$1 script=$2 round mode key r t0 t1 p0 p1 c0 c1 rows; shift 2
  for round in $(seq 1 "$rounds"); do
    for mode in "$@"; do
      start "$mode"
      if [ "$mode" = collector-postgres ]; then
        p0=$(pg_ticks); c0=$(psql_ "$pg_db" "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
      fi
      t0=$(ticks); r=$(rps "$url" ${script:+"$script"}); t1=$(ticks)
      if [ "$mode" = collector-postgres ]; then
        p1=$(pg_ticks)
        rows=$(psql_ "$pg_db" "SELECT count(*) FROM violations")
        c1=$(psql_ "$pg_db" "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
      fi
      stop
      key="$mode${tag:-}"
      if awk -v a="${R[$key]:-0}" -v b="$r" 'BEGIN { exit !(b > a) }'; then
        R[$key]=$r
        CPU[$key]=$(awk -v t="$((t1 - t0))" -v hz="$hz" -v r="$r" -v s="$secs" 'BEGIN { printf "%.0f", t / hz * 1e6 / (r * s) }')
        if [ "$mode" = collector-postgres ]; then
          PGCPU[$mode]=$(awk -v t="$((p1 - p0))" -v hz="$hz" -v r="$r" -v s="$secs" 'BEGIN { printf "%.0f", t / hz * 1e6 / (r * s) }')
          BATCH[$mode]=$(awk -v n="$rows" -v c="$((c1 - c0))" 'BEGIN { printf "%.1f", n / (c > 0 ? c : 1) }')
        fi
      fi
    done
  done
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
lua=bench/report.lua
obs=bench/observation.lua
# Observations: inventory reports (a new page-load id every four reports), against the 204
# floor reading the same bodies, beside violations into the same memory sink.
observations() {
  tag=-obs best "http://127.0.0.1:$port/csp-reports" "$obs" report-204 collector-memory collector-sqlite-process
}
print_observations() {
  printf "%-40s %12s %8s %10s\n" "POST observation, 204 handler (floor)" "${R[report-204-obs]}" "1.000" "${CPU[report-204-obs]}"
  printf "%-40s %12s %8s %10s\n" "collector observations, memory sink" "${R[collector-memory-obs]}" "$(ratio "${R[collector-memory-obs]}" "${R[report-204-obs]}")" "${CPU[collector-memory-obs]}"
  printf "%-40s %12s %8s %10s\n" "collector observations, SQLite PC" "${R[collector-sqlite-process-obs]}" "$(ratio "${R[collector-sqlite-process-obs]}" "${R[report-204-obs]}")" "${CPU[collector-sqlite-process-obs]}"
}
if [ "$only" = observations ]; then
  best "http://127.0.0.1:$port/csp-reports" "$lua" report-204 collector-memory
  observations
  echo "machine: $(nproc) cores; wrk -t$threads -c$conns -d${secs}s, best of $rounds"
  printf "%-40s %12s %8s %10s\n" "case" "req/s" "ratio" "CPU µs/req"
  printf "%-40s %12s %8s %10s\n" "POST report, 204 handler (floor)" "${R[report-204]}" "1.000" "${CPU[report-204]}"
  printf "%-40s %12s %8s %10s\n" "collector, memory sink" "${R[collector-memory]}" "$(ratio "${R[collector-memory]}" "${R[report-204]}")" "${CPU[collector-memory]}"
  print_observations
  exit 0
fi

best "http://127.0.0.1:$port/" "" plain tower-http layer

# Every SQLite run starts from an empty database.
best "http://127.0.0.1:$port/csp-reports" "$lua" \
  report-204 collector-memory collector-sqlite collector-sqlite-process collector-postgres

# The floor for storing in PostgreSQL: the same rows, batch size (the collector's mean,
# rounded) on one connection (the sink pipelines its commits on one), with nothing else;
# best of the rounds.
floor_batch=$(awk -v b="${BATCH[collector-postgres]}" 'BEGIN { n = int(b + 0.5); print (n < 1) ? 1 : n }')
for round in $(seq 1 "$rounds"); do
  new_db
  r=$("$floor_bin" "$CONNECT_SRC_PG_URL" "$secs" "$floor_batch" 1 | awk '/rows\/s/ {print $2}')
  R[pg-floor]=$(awk -v a="${R[pg-floor]:-0}" -v b="$r" 'BEGIN { print (b > a) ? b : a }')
done

# Peak RSS of the memory-sink collector under a flood of unique blocked URLs: 30 s of
# reports as fast as they go (well over 1,000,000 here), then the count wrk sent.
start collector-memory
rss_start=$(peak_rss_mib)
flood=$(wrk -t"$threads" -c"$conns" -d30s -s "$lua" "http://127.0.0.1:$port/csp-reports" | awk '/requests in/ {print $1}')
rss_peak=$(peak_rss_mib)
stop

observations

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); wrk -t$threads -c$conns -d${secs}s, best of $rounds"
printf "%-40s %12s %8s %10s\n" "case" "req/s" "ratio" "CPU µs/req"
printf "%-40s %12s %8s\n" "app, no layer" "${R[plain]}" "1.000"
printf "%-40s %12s %8s\n" "app, tower-http static header" "${R[tower-http]}" "$(ratio "${R[tower-http]}" "${R[plain]}")"
printf "%-40s %12s %8s\n" "app, connect-src layer" "${R[layer]}" "$(ratio "${R[layer]}" "${R[plain]}")"
printf "%-40s %12s %8s\n" "  layer vs tower-http" "" "$(ratio "${R[layer]}" "${R[tower-http]}")"
printf "%-40s %12s %8s %10s\n" "POST report, 204 handler (floor)" "${R[report-204]}" "1.000" "${CPU[report-204]}"
printf "%-40s %12s %8s %10s\n" "collector, memory sink" "${R[collector-memory]}" "$(ratio "${R[collector-memory]}" "${R[report-204]}")" "${CPU[collector-memory]}"
printf "%-40s %12s %8s %10s\n" "collector, SQLite, PowerLoss (FULL)" "${R[collector-sqlite]}" "$(ratio "${R[collector-sqlite]}" "${R[report-204]}")" "${CPU[collector-sqlite]}"
printf "%-40s %12s %8s %10s\n" "collector, SQLite, ProcessCrash (NORMAL)" "${R[collector-sqlite-process]}" "$(ratio "${R[collector-sqlite-process]}" "${R[report-204]}")" "${CPU[collector-sqlite-process]}"
printf "%-40s %12s %8s %10s\n" "collector, PostgreSQL" "${R[collector-postgres]}" "$(ratio "${R[collector-postgres]}" "${R[report-204]}")" "${CPU[collector-postgres]}"
printf "%-40s %12s %8s %10s\n" "  PostgreSQL server, per report" "" "" "${PGCPU[collector-postgres]}"
printf "%-40s %12s %8s\n" "PostgreSQL floor, $floor_batch rows/commit, 1 conn" "${R[pg-floor]}" "1.000"
printf "%-40s %12s %8s\n" "  collector, PostgreSQL vs its floor" "" "$(ratio "${R[collector-postgres]}" "${R[pg-floor]}")"
print_observations
echo "collector, PostgreSQL: ${BATCH[collector-postgres]} reports per commit on average"
echo "memory sink: ${flood} unique-URL reports in 30 s; peak RSS ${rss_peak} MiB (at start ${rss_start} MiB)"
