#!/usr/bin/env bash
# The project's test command (README "Run the tests"; .ci/run calls it too).
# Installs what the real-browser suite and the PostgreSQL tests need when missing, then runs
# every test.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v firefox-esr >/dev/null 2>&1 || need+=(firefox-esr)
command -v certutil >/dev/null 2>&1 || need+=(libnss3-tools)
# WebKit: MiniBrowser (not on PATH) is in libwebkit2gtk-4.1-0, which webkit2gtk-driver
# pulls in; it has no headless mode, so the suite runs it on its own Xvfb display.
[ -x /usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser ] || need+=(webkit2gtk-driver)
command -v Xvfb >/dev/null 2>&1 || need+=(xvfb)
# tests/postgres.rs starts throw-away clusters with Debian's PostgreSQL server binaries.
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  sudo_=""
  [ "$(id -u)" -eq 0 ] || sudo_="sudo"
  $sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq "${need[@]}" >/dev/null
fi

cargo test --all-features "$@"
