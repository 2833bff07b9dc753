#!/usr/bin/env bash
# Builds another revision (`git archive`, so no checkout or worktree is touched) for a
# before/after measurement: its `connect-src` binary and, given with this tree's source so
# that both sides run the same code, the examples named. Release builds, sharing this
# tree's target dir for the dependencies; the results are copied to OUT (the next build of
# this tree links its own binaries there again).
#   bash bench/before.sh REV OUT [example...]
#   e.g. bash bench/before.sh 6044f98 /tmp/before pg_prune
set -euo pipefail
cd "$(dirname "$0")/.."
rev="$1"
out="$2"
shift 2
here=$PWD
src=$(mktemp -d)
trap 'rm -rf "$src"' EXIT
git archive "$rev" | tar -x -C "$src"
for example in "$@"; do
  cp "examples/$example.rs" "$src/examples/"
  grep -q "name = \"$example\"" "$src/Cargo.toml" ||
    printf '\n[[example]]\nname = "%s"\nrequired-features = ["postgres"]\n' "$example" >> "$src/Cargo.toml"
done
mkdir -p "$out"
. bench/exe.sh
built=$(cd "$src" && CARGO_TARGET_DIR="$here/target" exe --release --features cli --bin connect-src)
cp "$built" "$out/connect-src"
for example in "$@"; do
  built=$(cd "$src" && CARGO_TARGET_DIR="$here/target" exe --release --features cli --example "$example")
  cp "$built" "$out/$example"
done
echo "built $rev into $out"
