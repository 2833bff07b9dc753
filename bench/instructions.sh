#!/usr/bin/env bash
# Instructions per response for each layer configuration, counted by callgrind (repeatable
# run to run, unlike wall-clock time on a shared 2-core machine).
#   bash bench/instructions.sh [iterations]
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-20000}"
command -v valgrind >/dev/null 2>&1 || {
  sudo_=""; [ "$(id -u)" -eq 0 ] || sudo_="sudo"
  $sudo_ apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq valgrind >/dev/null
}
cargo build --release --example layer_instructions -q
bin=target/release/examples/layer_instructions
count() { # config iterations -> total instructions
  local out; out=$(mktemp)
  valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" "$1" "$2" >/dev/null 2>&1
  awk '/^summary:/ {print $2}' "$out"; rm -f "$out"
}
configs="none tower-http merge override merge-two-layers axum-helmet merge-report-uri merge-inventory merge-inventory-1pct merge-rollout tower-http-allowlist merge-allowlist none-routed tower-http-routed merge-routed override-routed merge-two-layers-routed merge-report-uri-routed merge-inventory-routed merge-rollout-routed tower-http-allowlist-routed merge-allowlist-routed"
declare -A per
for c in $configs; do
  base=$(count "$c" 0); total=$(count "$c" "$n")
  per[$c]=$(( (total - base) / n ))
done
printf "%-24s %14s %18s\n" "config" "instr/response" "vs tower-http"
for c in $configs; do
  base_c=${c%-routed}; [ "$base_c" = "$c" ] && ref=tower-http || ref=tower-http-routed
  printf "%-24s %14s %18s\n" "$c" "${per[$c]}" "$(awk -v a="${per[$c]}" -v b="${per[$ref]}" 'BEGIN { printf "%.3f", a / b }')"
done
# A rollout's own cost per response: the same policy (with its report-uri) without a stage.
for r in "" -routed; do
  printf "%-24s %14s %18s\n" "rollout stage$r" "+$(( per[merge-rollout$r] - per[merge-report-uri$r] ))" \
    "$(awk -v a="${per[merge-rollout$r]}" -v b="${per[merge-report-uri$r]}" 'BEGIN { printf "%.3f vs report-uri", a / b }')"
done
# The inventory's own cost per response: the same policy (with its report-uri) without it.
for r in "" -routed; do
  printf "%-24s %14s %18s\n" "inventory unsampled$r" "+$(( per[merge-inventory$r] - per[merge-report-uri$r] ))" \
    "$(awk -v a="${per[merge-inventory$r]}" -v b="${per[merge-report-uri$r]}" 'BEGIN { printf "%.3f vs report-uri", a / b }')"
done
# With Connection-Allowlist-Report-Only beside the CSP: against tower-http setting both.
for r in "" -routed; do
  printf "%-24s %14s %18s\n" "allowlist$r" "${per[merge-allowlist$r]}" \
    "$(awk -v a="${per[merge-allowlist$r]}" -v b="${per[tower-http-allowlist$r]}" 'BEGIN { printf "%.3f vs tower-http x2", a / b }')"
done
