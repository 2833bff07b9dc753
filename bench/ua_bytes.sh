#!/usr/bin/env bash
# Bytes stored per report when each request carries 100 reports and a 2 KB User-Agent (issue
# 19: each report used to keep its own copy of the request's User-Agent). Runs
# `connect-src serve` on 127.0.0.1 with a new SQLite file, then with a new database of a
# throw-away PostgreSQL cluster (bench/pg_cluster.sh); POSTs N requests, each 100 Reporting
# API reports (blocked URLs spread over 10 origins, so 10 summary groups) with one
# 2,048-byte User-Agent header of random printable text (nothing compresses it); stops serve
# with SIGTERM; prints bytes per report: SQLite, the database file's growth once its WAL is
# checkpointed into it; PostgreSQL, the growth of every table's total size (rows, TOAST,
# indexes; pg_total_relation_size). Loopback only; a fixed number of requests; stops by
# itself.
#   bash bench/ua_bytes.sh [requests] [connect-src binary]
#   (default: 50 requests, this tree's release build; bench/before.sh builds another revision)
set -euo pipefail
cd "$(dirname "$0")/.."
requests="${1:-50}"
bin="${2:-}"
if [ -z "$bin" ]; then
  . bench/exe.sh
  bin=$(exe --release --features cli --bin connect-src)
fi
port=3171
admin=3172
pg_port=3173
. bench/pg_cluster.sh
work=$(mktemp -d)
server_pid=""
stop_server() {
  if [ -n "$server_pid" ]; then kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  server_pid=""
}
trap 'stop_server; rm -rf "$work"; pg_stop' EXIT

# The bodies and the User-Agent, made once (the same for every store).
python3 - "$work" "$requests" <<'EOF'
import json, random, sys
work, requests = sys.argv[1], int(sys.argv[2])
rng = random.Random(19)
ua = "Mozilla/5.0 " + "".join(chr(rng.randrange(33, 127)) for _ in range(2048 - 12))
open(f"{work}/ua", "w").write(ua)
n = 0
for r in range(requests):
    reports = []
    for i in range(100):
        n += 1
        reports.append({"type": "csp-violation", "age": 1, "url": "https://app.example/orders/list",
            "body": {"documentURL": "https://app.example/orders/list",
                     "blockedURL": f"https://cdn{i % 10}.example/asset/{n}.js",
                     "effectiveDirective": "connect-src", "disposition": "enforce",
                     "originalPolicy": "connect-src 'self'; report-to csp", "statusCode": 200}})
    open(f"{work}/body{r}", "w").write(json.dumps(reports))
EOF
ua=$(cat "$work/ua")

start() { # db
  "$bin" serve --listen "127.0.0.1:$port" --admin-listen "127.0.0.1:$admin" --db "$1" >/dev/null 2>"$work/log" &
  server_pid=$!
  for _ in $(seq 1 200); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz")" = 200 ] && return 0
    sleep 0.05
  done
  echo "serve did not start: $(cat "$work/log")" >&2; exit 1
}

post_all() { # prints the bytes sent (bodies and User-Agent headers)
  local sent=0 r code
  for r in $(seq 0 $((requests - 1))); do
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Content-Type: application/reports+json" \
      -H "User-Agent: $ua" --data-binary "@$work/body$r" "http://127.0.0.1:$port/csp-reports")
    [ "$code" = 204 ] || { echo "request $r answered $code" >&2; exit 1; }
    sent=$((sent + $(stat -c %s "$work/body$r") + ${#ua}))
  done
  echo "$sent"
}

reports=$((requests * 100))

# SQLite: the file's size once empty (schema only) and after, each with its WAL
# checkpointed into it.
db="$work/reports.sqlite"
sqlite_size() { sqlite3 "$db" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null; stat -c %s "$db"; }
start "$db"
stop_server
empty=$(sqlite_size)
start "$db"
sent=$(post_all)
stop_server
full=$(sqlite_size)
rows=$(sqlite3 "$db" "SELECT count(*) FROM violations")
[ "$rows" = "$reports" ] || { echo "SQLite holds $rows rows, not $reports" >&2; exit 1; }
sqlite_per=$(( (full - empty) / reports ))

# PostgreSQL: every table's total size (partitions, TOAST and indexes included).
new_db
pg_size() { psql_ "$pg_db" "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('r', 'm')"; }
start "$CONNECT_SRC_PG_URL"
pg_empty=$(pg_size)
post_all >/dev/null
stop_server
pg_full=$(pg_size)
pg_rows=$(psql_ "$pg_db" "SELECT count(*) FROM violations")
[ "$pg_rows" = "$reports" ] || { echo "PostgreSQL holds $pg_rows rows, not $reports" >&2; exit 1; }
pg_per=$(( (pg_full - pg_empty) / reports ))

echo "binary: $bin; $requests requests x 100 reports, one 2,048-byte User-Agent each"
printf "%-12s %14s %16s %10s\n" store "bytes/report" "stored/sent" "reports"
printf "%-12s %14s %16s %10s\n" sent "$((sent / reports))" "1.00" "$reports"
printf "%-12s %14s %16s %10s\n" SQLite "$sqlite_per" "$(awk -v a="$((full - empty))" -v b="$sent" 'BEGIN { printf "%.2f", a / b }')" "$rows"
printf "%-12s %14s %16s %10s\n" PostgreSQL "$pg_per" "$(awk -v a="$((pg_full - pg_empty))" -v b="$sent" 'BEGIN { printf "%.2f", a / b }')" "$pg_rows"
