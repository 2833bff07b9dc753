# Sourced by bench/load.sh and bench/pg_writers.sh (set pg_port first): installs Debian's
# postgresql when missing, starts a throw-away cluster on 127.0.0.1:$pg_port in a temp dir,
# and defines pg_stop (stop it, remove the dir), psql_ <db> <sql>, and new_db (a new
# database, exported as CONNECT_SRC_PG_URL).
# A throw-away PostgreSQL cluster (Debian's postgresql; PostgreSQL's defaults: fsync on,
# synchronous_commit on) in a temp dir on 127.0.0.1, a new database per run.
[ -x "$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)/initdb" ] || {
  sudo_=""; [ "$(id -u)" -eq 0 ] || sudo_="sudo"
  $sudo_ apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq postgresql >/dev/null
}
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
pg_dir=$(mktemp -d)
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" -eq 0 ] && chown postgres "$pg_dir"
as_pg "$pg_bin/initdb" -D "$pg_dir/data" -U postgres -A trust >/dev/null
as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w \
  -o "-p $pg_port -c listen_addresses=127.0.0.1 -k $pg_dir" start >/dev/null
pg_pid=$(head -1 "$pg_dir/data/postmaster.pid")
pg_stop() { as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -m fast -w stop >/dev/null 2>&1 || kill "$pg_pid" 2>/dev/null || true; rm -rf "$pg_dir"; }
psql_() { "$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -Atq -d "$1" -c "$2"; }
pg_runs=0
new_db() { pg_runs=$((pg_runs + 1)); psql_ postgres "CREATE DATABASE r$pg_runs"; pg_db=r$pg_runs; CONNECT_SRC_PG_URL="postgres://postgres@127.0.0.1:$pg_port/$pg_db"; export CONNECT_SRC_PG_URL; }
