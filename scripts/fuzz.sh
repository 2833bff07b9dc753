#!/usr/bin/env bash
# Runs every fuzz target for a bounded time: `bash scripts/fuzz.sh [seconds-per-target]`
# (default 60 s each), and prints a summary line per target: executions and crashes. Each
# target starts from its committed seeds (fuzz/seeds/<target>/, read only) and its local
# corpus (fuzz/corpus/<target>/, not committed, where new inputs are written).
# Needs cargo-fuzz (`cargo install cargo-fuzz`).
# The stable toolchain runs cargo-fuzz's nightly flags through RUSTC_BOOTSTRAP=1.
set -uo pipefail
cd "$(dirname "$0")/../fuzz"
secs="${1:-60}"
case "$secs" in ''|*[!0-9]*|0) echo "usage: $0 [seconds-per-target, a positive integer]" >&2; exit 2 ;; esac
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null 2>&1 || { echo "cargo-fuzz missing: cargo install cargo-fuzz" >&2; exit 2; }
status=0
for target in $(cargo fuzz list); do
  mkdir -p "corpus/$target"
  log="$(mktemp)"
  seeds=()
  [ -d "seeds/$target" ] && seeds=("seeds/$target")
  cargo fuzz run "$target" "corpus/$target" "${seeds[@]}" -- -max_total_time="$secs" -max_len=4096 -rss_limit_mb=1024 >"$log" 2>&1
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  [ -n "$execs" ] || execs=$(grep -oE '#[0-9]+' "$log" | tail -1 | tr -d '#')
  crashes=$(ls "artifacts/$target" 2>/dev/null | wc -l)
  echo "fuzz $target: ${secs}s, ${execs:-?} executions, exit $rc, artifacts: $crashes"
  if [ "$rc" -ne 0 ]; then status=1; tail -40 "$log"; fi
  rm -f "$log"
done
exit $status
