#!/usr/bin/env bash
# PostgresSink::prune_before on a million stored reports (examples/pg_prune.rs): a new
# database of a throw-away PostgreSQL cluster (bench/pg_cluster.sh: PostgreSQL's defaults,
# fsync on), filled with the reports of the last 30 days, pruned to 15 days (the first
# `--retain 15d` run: half the rows go) and then an hour later (every later hourly run).
# Loopback only; stops by itself. The example given as the second argument (built from
# another revision by bench/before.sh) runs instead of this tree's.
#   bash bench/pg_prune.sh [rows] [pg_prune binary] [rounds]   (default: 1000000, this tree's, 1)
set -euo pipefail
cd "$(dirname "$0")/.."
rows="${1:-1000000}"
bin="${2:-}"
rounds="${3:-1}"
if [ -z "$bin" ]; then
  . bench/exe.sh
  bin=$(exe --release --features postgres --example pg_prune)
fi
pg_port=3181
. bench/pg_cluster.sh
trap 'pg_stop' EXIT
echo "binary: $bin; $rows rows over 30 days, pruned to 15 days, then an hour later"
for round in $(seq 1 "$rounds"); do
  new_db
  "$bin" "$CONNECT_SRC_PG_URL" "$rows" 30 15
done
