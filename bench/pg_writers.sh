#!/usr/bin/env bash
# PostgresSink commits in flight (`PostgresSinkBuilder::writers`, via load_server's
# CONNECT_SRC_PG_WRITERS): the collector's reports/s under wrk for each value, alternating,
# each against the bare-PostgreSQL floor (examples/pg_floor.rs) at that run's mean commit
# size on one connection. Targets 127.0.0.1 only; fixed duration per run; stops by itself.
#   bash bench/pg_writers.sh [seconds-per-run] [rounds] [writers...]   (default: 8 2 2 1 3)
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-8}"
rounds="${2:-2}"
shift $(( $# < 2 ? $# : 2 ))
writers=("$@"); [ ${#writers[@]} -gt 0 ] || writers=(2 1 3)
port=3161
command -v wrk >/dev/null 2>&1 || {
  sudo_=""; [ "$(id -u)" -eq 0 ] || sudo_="sudo"
  $sudo_ apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq wrk >/dev/null
}
cargo build --release --features sqlite,postgres --example load_server --example pg_floor -q
bin=target/release/examples/load_server
pg_port=3162
. bench/pg_cluster.sh
server_pid=""
trap '[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; pg_stop' EXIT
commits() { psql_ "$pg_db" "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"; }
printf "%-8s %12s %8s %12s %8s\n" writers "reports/s" "per-commit" "floor" ratio
for round in $(seq 1 "$rounds"); do
  for w in "${writers[@]}"; do
    new_db
    CONNECT_SRC_PG_WRITERS=$w "$bin" collector-postgres "$port" >/dev/null &
    server_pid=$!
    for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
    c0=$(commits)
    r=$(wrk -t1 -c32 -d"${secs}s" -s bench/report.lua "http://127.0.0.1:$port/csp-reports" | awk '/Requests\/sec/ {print $2}')
    kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
    c1=$(commits); n=$(psql_ "$pg_db" "SELECT count(*) FROM violations")
    b=$(awk -v n="$n" -v c=$((c1 - c0)) 'BEGIN { b = int(n / (c > 0 ? c : 1) + 0.5); print (b < 1) ? 1 : b }')
    new_db
    f=$(target/release/examples/pg_floor "$CONNECT_SRC_PG_URL" "$secs" "$b" 1 | awk '/rows\/s/ {print $2}')
    printf "%-8s %12s %8s %12s %8s\n" "$w" "$r" "$b" "$f" "$(awk -v a="$r" -v b="$f" 'BEGIN { printf "%.3f", a / b }')"
  done
done
