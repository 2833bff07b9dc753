#!/bin/sh
# Connection-Allowlist measurements, in one command:   sh run.sh
#
# Needs: root (the server binds ports 80, 443, 8080, 8443, 8090 and UDP 3478 on 127.0.0.21 only),
#   python3 (standard library only), openssl, Debian's chromium, firefox-esr, the WebKitGTK
#   MiniBrowser (/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser) and Xvfb.
#   Nothing is installed and no system file is touched; *.test names reach 127.0.0.21 through
#   Chromium's --host-resolver-rules only.
# Does: every probe of cases.py twice in Chromium (results/run1, results/run2), the "ignored"
#   group once per run in Firefox ESR and WebKitGTK, compares the two Chromium runs
#   (results/compare.txt) and writes results/runN/tables.md.
# Writes: results/runN/{chromium,firefox,webkit}.json (raw: headers, attempts, page results,
#   every request/report the server saw, DevTools console messages and issues),
#   results/runN/*.browser.log, results/runN/tables.md, results/compare.txt.
# Takes about 35 minutes on two shared cores (one browser at a time).
set -e
cd "$(dirname "$0")"
mkdir -p tmp results certs
if [ ! -f certs/leaf.pem ]; then   # one self-signed certificate; Chromium runs with --ignore-certificate-errors
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=cal-probe" -keyout certs/leaf.key \
    -out certs/leaf.pem -addext "subjectAltName=DNS:*.test,DNS:a.test,DNS:b.test,IP:127.0.0.21" 2>/dev/null
fi
Xvfb :93 -screen 0 1024x768x24 -nolisten tcp >/dev/null 2>&1 &
XVFB=$!
trap 'kill $XVFB 2>/dev/null' EXIT
for run in run1 run2; do
  rm -rf results/$run
  timeout 2400 python3 harness.py chromium --out results/$run
  timeout 300 python3 harness.py firefox --out results/$run
  PROBE_DISPLAY=:93 timeout 300 python3 harness.py webkit --out results/$run
  python3 report.py results/$run > results/$run/tables.md
done
python3 compare.py results/run1 results/run2 | tee results/compare.txt
