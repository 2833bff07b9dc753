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
#   (results/compare.txt), writes results/runN/tables.md, runs 7 groups once more without
#   DevTools attached (results/nocdp, results/compare-nocdp.txt) and rebuilds FINDINGS.md.
# Writes: results/runN/{chromium,firefox,webkit}.json (raw: headers, attempts, page results,
#   every request/report the server saw, DevTools console messages and issues),
#   results/runN/*.browser.log, results/runN/tables.md, results/compare*.txt, FINDINGS.md.
# Takes about 35 minutes on two shared cores (one browser at a time): Chromium 13-14 min per
#   full run, Firefox and WebKit 15 s each, the partial no-DevTools run 5 min.
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
# a third, partial Chromium run without DevTools attached: does the CDP client change any verdict?
rm -rf results/nocdp
timeout 1200 python3 harness.py chromium --out results/nocdp --no-cdp --only gram,urlp,api,hint,rtc,redir,csp
python3 compare.py results/nocdp results/run1 | grep -v "missing in one run" | tee results/compare-nocdp.txt
sh make_findings.sh
