#!/usr/bin/env bash
# The readiness gate over a million stored reports and observations, on SQLite and on a
# throw-away PostgreSQL cluster (examples/gate_bench.rs says what is stored and timed).
#   bash bench/gate.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q --example gate_bench --features sqlite,postgres
bin=target/release/examples/gate_bench
env -u CONNECT_SRC_PG_URL "$bin"
pg_port=${PG_PORT:-55439}
. bench/pg_cluster.sh
trap pg_stop EXIT
new_db
"$bin"
