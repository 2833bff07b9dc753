# Sourced by the benches: `exe <cargo build args…>` builds and prints the path of the one
# executable built (cargo links it again on every build, so it is this tree's even right
# after bench/before.sh built another revision into the same target dir).
exe() {
  cargo build "$@" --message-format=json -q | python3 -c '
import json, sys
found = [m["executable"] for m in map(json.loads, sys.stdin)
         if m.get("reason") == "compiler-artifact" and m.get("executable")]
print(found[-1])'
}
