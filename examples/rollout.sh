#!/usr/bin/env bash
# A staged rollout, start to rollback, in headless Chromium: runs examples/rollout.rs,
# asks the gate about two candidates, starts a rollout of the one the gate lets through,
# and shows it rolled back when a page the report-only stage never saw breaks.
# Needs chromium (bash scripts/test.sh installs it). Uses ports 3001-3004 (PORT moves them).
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-3001}
API=$((PORT + 1)); PAY=$((PORT + 2)); OLD=$((PORT + 3))
work=$(mktemp -d)
export ROLLOUT_DB="$work/rollout-demo.sqlite"
cargo build -q --example rollout --features sqlite
cargo build -q --features cli --bin connect-src
cli=target/debug/connect-src
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work" 2>/dev/null || true
}
trap cleanup EXIT
PORT=$PORT RUST_LOG=warn target/debug/examples/rollout >"$work/app.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$PORT/" >/dev/null && break; sleep 0.2; done
browse() { # a headless Chromium that keeps loading $1
  chromium --headless=new --no-sandbox --disable-gpu --no-first-run \
    --user-data-dir="$work/profile-$2" "http://127.0.0.1:$PORT$1" >/dev/null 2>&1 &
  pids+=($!)
}
enforced="'self' http://127.0.0.1:$API http://127.0.0.1:$PAY http://127.0.0.1:$OLD"
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
status() { $cli rollout status --db "$ROLLOUT_DB" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["state"], str(r["stage"])+"%"); [print("  ", h["from"], "->", h["to"], h["reason"]) for h in r["history"]]'; }

echo "A shopper browses the home page (it calls the API host only)..."
browse "/?next=home" home
sleep 8
say "connect-src promote --policy \"$enforced\" --candidate \"'self'\" ..."
$cli promote --db "$ROLLOUT_DB" --policy "$enforced" --candidate "'self'" \
  --since 1h --min-page-loads 5 --min-reach 1 | python3 -m json.tool || true
say "connect-src promote --policy \"$enforced\" --candidate \"'self' http://127.0.0.1:$API\" ..."
$cli promote --db "$ROLLOUT_DB" --policy "$enforced" --candidate "'self' http://127.0.0.1:$API" \
  --since 1h --min-page-loads 5 --min-reach 1 | python3 -m json.tool || true
say "connect-src rollout start --candidate \"'self' http://127.0.0.1:$API\" --stages 50,100 --min-stage 10s ..."
$cli rollout start --db "$ROLLOUT_DB" --policy "$enforced" --candidate "'self' http://127.0.0.1:$API" \
  --stages 50,100 --min-stage 10s --min-page-loads 5 --min-reach 1 >/dev/null
for _ in $(seq 60); do
  stage=$($cli rollout status --db "$ROLLOUT_DB" | python3 -c 'import json,sys; print(json.load(sys.stdin)["stage"])')
  [ "$stage" != 0 ] && break; sleep 1
done
say "connect-src rollout status   # after the report-only stage"
status
echo
echo "Another shopper checks out (the payments host, which report-only never saw)..."
browse "/checkout?next=checkout" checkout
for _ in $(seq 60); do
  state=$($cli rollout status --db "$ROLLOUT_DB" | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')
  [ "$state" != running ] && break; sleep 1
done
say "connect-src rollout status   # the enforced stage broke checkout"
status
