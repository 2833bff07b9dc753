#!/bin/sh
# Re-run everything: needs root (ports 80/443), Xvfb on :99 for WebKit.
cd "$(dirname "$0")"
if ! { [ -f xvfb.pid ] && kill -0 "$(cat xvfb.pid)" 2>/dev/null; }; then
  Xvfb :99 -screen 0 1280x800x24 >xvfb.log 2>&1 & echo $! > xvfb.pid; sleep 1
fi
mkdir -p tmp results reports
if [ ! -f certs/leaf.pem ]; then  # a test CA and a leaf for the *.localhost names, made here
  mkdir -p certs
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=probe-ca" \
    -keyout certs/ca.key -out certs/ca.pem 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=a.localhost" \
    -keyout certs/leaf.key -out certs/leaf.csr 2>/dev/null
  printf 'subjectAltName=DNS:localhost,DNS:*.localhost,DNS:a.localhost,DNS:b.localhost,DNS:c.localhost,IP:127.0.0.1\n' > certs/ext.cnf
  openssl x509 -req -in certs/leaf.csr -CA certs/ca.pem -CAkey certs/ca.key -CAcreateserial \
    -days 30 -extfile certs/ext.cnf -out certs/leaf.pem 2>/dev/null
fi
for e in ${ENGINES:-chromium firefox webkit}; do
  rm -f results/$e.json results/$e.browser.log reports/$e-*
  timeout 900 python3 harness.py $e
done
./make_findings.sh   # rebuilds results/tables.md and FINDINGS.md
# Xvfb is left running; stop it with: kill "$(cat xvfb.pid)"
