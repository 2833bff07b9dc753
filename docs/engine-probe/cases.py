"""Probe definitions.  Each probe = one page load with one connection attempt.

policy: list of (header-name, raw header value bytes) sent verbatim.
page:   origin the test page is served from.
target: URL attempted; unless raw=True, '?pid=N' (or '&pid=N') is appended so the
        server can attribute the request.
"""
P1, P2 = 8081, 8082
CSP = "Content-Security-Policy"
CSPRO = "Content-Security-Policy-Report-Only"


def csp(v):
    return [(CSP, v if isinstance(v, bytes) else v.encode())]


PROBES = []


def add(group, policy, page, api, target, raw=False, note="", wait=None):
    PROBES.append(dict(group=group, policy=policy if isinstance(policy, list) else csp(policy),
                       page=page, api=api, target=target, raw=raw, note=note, wait=wait))


A1 = f"http://a.localhost:{P1}"
B1 = f"http://b.localhost:{P1}"
B2 = f"http://b.localhost:{P2}"
C2 = f"http://c.localhost:{P2}"
PAGE2 = f"http://page.localhost:{P2}"

# ---- G0 sanity: resolution of names / plain allowed+blocked
add("G0", "connect-src 'self'", A1, "fetch", f"{A1}/x", note="sanity: same-origin allowed")
add("G0", "connect-src 'self'", A1, "fetch", f"{C2}/x", note="sanity: cross-origin blocked")
add("G0", "connect-src 'self'", f"http://127.0.0.1:{P1}", "fetch", f"http://localhost:{P2}/x", note="sanity")

# ---- G1 star vs websocket
add("G1", "connect-src *", A1, "ws", f"ws://b.localhost:{P2}/ws")
add("G1", "connect-src *", A1, "ws", f"ws://a.localhost:{P1}/ws", note="same-origin ws")
add("G1", "connect-src *", A1, "fetch", f"{B2}/x", note="control")
add("G1", "connect-src *", "https://a.localhost", "ws", f"wss://b.localhost:{P2}/ws")
add("G1", "connect-src *", "https://a.localhost", "ws", "wss://b.localhost/ws")
add("G1", "connect-src *", "https://a.localhost", "ws", "wss://a.localhost/ws", note="same host")
add("G1", "connect-src *", "https://a.localhost", "fetch", f"https://b.localhost:{P2}/x", note="control")
add("G1", "connect-src *", "https://a.localhost", "ws", f"ws://b.localhost:{P2}/ws", note="ws from https page (mixed content too)")

# ---- G2 IP literal
IP1 = f"http://127.0.0.1:{P1}"
add("G2", f"connect-src {IP1}", IP1, "fetch", f"{IP1}/api")
add("G2", f"connect-src {IP1}", IP1, "fetch", f"http://127.0.0.1:{P2}/api", note="control other port")
add("G2", f"connect-src {IP1}", IP1, "ws", f"ws://127.0.0.1:{P1}/ws")
add("G2", "connect-src 'self'", IP1, "fetch", f"{IP1}/api", note="'self' on IP page")
add("G2", f"connect-src {IP1}", f"http://a.localhost:{P1}", "fetch", f"{IP1}/api", note="page on other host")

# ---- G3 port 80 source vs https/443
pol3 = "connect-src http://a.localhost:80"
for t, api in [("https://a.localhost/x", "fetch"), ("http://a.localhost:443/x", "fetch"),
               ("http://a.localhost/x", "fetch"), ("https://a.localhost:80/x", "fetch"),
               ("ws://a.localhost/ws", "ws"), ("wss://a.localhost/ws", "ws")]:
    add("G3", pol3, "http://b.localhost", api, t)

# ---- G4 non-ASCII in directive
pol4 = f"connect-src {A1} http://bücher.localhost".encode("utf-8")
add("G4", csp(pol4), A1, "fetch", f"{C2}/x", note="UTF-8 bytes")
add("G4", csp(pol4), A1, "fetch", f"{A1}/x", note="UTF-8 bytes")
pol4l = f"connect-src {A1} http://bücher.localhost".encode("latin-1")
add("G4", csp(pol4l), A1, "fetch", f"{C2}/x", note="Latin-1 byte 0xFC")
pol4d = f"default-src 'none'; script-src 'unsafe-inline'; connect-src {A1} http://bücher.localhost".encode("utf-8")
add("G4", csp(pol4d), A1, "fetch", f"{A1}/x", note="UTF-8; script-src added so the test script can run")
add("G4", csp(pol4d), A1, "fetch", f"{C2}/x", note="UTF-8")
add("G4", csp(f"default-src 'none'; script-src 'unsafe-inline'; connect-src {A1} http://xn--bcher-kva.localhost"),
    A1, "fetch", f"{A1}/x", note="control: punycode form")
add("G4", csp(f"default-src 'none'; script-src 'unsafe-inline'; connect-src {A1} http://b\\u00fccher.localhost"),
    A1, "fetch", f"{A1}/x", note="control: ASCII-only odd source")

# ---- G5 query / fragment in source
for pol in [f"connect-src 'self' {A1}/svc?x=1", f"connect-src 'self' {A1}/svc#f", f"connect-src 'self' {A1}/svc"]:
    for t in [f"{A1}/svc?x=1", f"{A1}/svc", f"{A1}/svc?y=2", f"{A1}/other"]:
        add("G5", pol, PAGE2, "fetch", t, raw=True)

# ---- G6 control / look-alike chars
two = lambda sep: b"connect-src " + A1.encode() + sep + C2.encode()
g6 = [("VT 0x0B between sources", two(b"\x0b")),
      ("TAB 0x09 between sources (control)", two(b"\x09")),
      ("NBSP U+00A0 as UTF-8 C2 A0", two(b"\xc2\xa0")),
      ("NBSP as Latin-1 byte A0", two(b"\xa0")),
      ("FF 0x0C between sources", two(b"\x0c")),
      ("DEL 0x7F inside host of 1st source", b"connect-src http://a.loc\x7falhost:8081 " + C2.encode()),
      ]
for note, pol in g6:
    for t in [f"{A1}/x", f"{C2}/x", f"{B2}/x"]:
        add("G6", csp(pol), PAGE2, "fetch", t, note=note)
curly = "connect-src \u2018none\u2019".encode("utf-8")
for t in [f"{PAGE2}/x", f"{B2}/x"]:
    add("G6", csp(curly), PAGE2, "fetch", t, note="curly quotes \u2018none\u2019 (UTF-8)")
add("G6", csp("connect-src 'none'"), PAGE2, "fetch", f"{PAGE2}/x", note="control: real 'none'")

# ---- G7 'self' on default ports
for t, api in [("http://a.localhost/x", "fetch"), ("https://a.localhost/x", "fetch"), ("ws://a.localhost/ws", "ws"),
               ("wss://a.localhost/ws", "ws"), ("http://a.localhost:443/x", "fetch"),
               ("https://a.localhost:80/x", "fetch"), ("http://b.localhost/x", "fetch")]:
    add("G7", "connect-src 'self'", "http://a.localhost", api, t)
for t, api in [("https://a.localhost/x", "fetch"), ("http://a.localhost/x", "fetch"), ("wss://a.localhost/ws", "ws"),
               ("ws://a.localhost/ws", "ws"), ("https://a.localhost:80/x", "fetch"),
               ("http://a.localhost:443/x", "fetch")]:
    add("G7", "connect-src 'self'", "https://a.localhost", api, t)

# ---- G8 host wildcards vs IP targets
for pol in ["connect-src *", "connect-src http://*", "connect-src http://*.0.0.1", "connect-src http://*:*",
            "connect-src *.0.0.1:*"]:
    add("G8", pol, A1, "fetch", f"http://127.0.0.1:{P2}/x")
add("G8", "connect-src http://*", A1, "fetch", f"http://localhost:{P2}/x", note="control: name target")

# ---- G9 leading zeros in port
for pol in [f"connect-src http://a.localhost:0{P2}", f"connect-src http://a.localhost:000{P2}",
            f"connect-src http://a.localhost:{P2}", "connect-src http://a.localhost:080"]:
    add("G9", pol, B1, "fetch", f"http://a.localhost:{P2}/x")
add("G9", "connect-src http://a.localhost:080", B1, "fetch", "http://a.localhost/x", note="080 vs default port 80")

# ---- G10 trailing dot
for pol in [f"connect-src http://b.localhost.:{P2}", f"connect-src http://b.localhost:{P2}"]:
    for t in [f"http://b.localhost:{P2}/x", f"http://b.localhost.:{P2}/x"]:
        add("G10", pol, A1, "fetch", t)
add("G10", "connect-src 'self'", A1, "fetch", f"http://a.localhost.:{P1}/x", note="'self' vs trailing-dot same host")

# ---- G11 ws sources vs wss targets
for t in ["wss://a.localhost:80/ws", "ws://a.localhost/ws", "wss://a.localhost/ws", f"ws://a.localhost:{P1}/ws"]:
    add("G11", "connect-src ws://a.localhost", B1, "ws", t)
for t in [f"wss://a.localhost:{P1}/ws", f"ws://a.localhost:{P1}/ws"]:
    add("G11", f"connect-src ws://a.localhost:{P1}", B1, "ws", t)
add("G11", f"connect-src http://a.localhost:{P1}", B1, "fetch", f"https://a.localhost:{P1}/x",
    note="http source, same explicit port, https target")
add("G11", f"connect-src wss://a.localhost:{P1}", B1, "ws", f"ws://a.localhost:{P1}/ws", note="downgrade")
add("G11", "connect-src http://a.localhost", B1, "ws", "ws://a.localhost/ws", note="http source vs ws target")
add("G11", "connect-src https://a.localhost", B1, "ws", "wss://a.localhost/ws", note="https source vs wss target")
add("G11", "connect-src http://a.localhost", B1, "ws", "wss://a.localhost/ws", note="http source vs wss target")

# ---- G12 whole headers
for pol, note in [(csp(f"connect-src {A1}; connect-src *"), "duplicate directive, first wins?"),
                  (csp("connect-src *, connect-src 'self'"), "comma-joined two policies in one header"),
                  (csp("connect-src 'self', connect-src *"), "comma-joined, reversed"),
                  (csp("connect-src *") + csp("connect-src 'self'"), "two separate CSP headers"),
                  (csp("connect-src *") + [(CSPRO, b"connect-src 'self'")], "enforce * + report-only 'self'"),
                  (csp("connect-src 'self'") + [(CSPRO, b"connect-src *")], "enforce 'self' + report-only *"),
                  ([(CSPRO, b"connect-src 'self'")], "report-only only")]:
    for t in [f"{C2}/x", f"{A1}/x"]:
        add("G12", pol, A1, "fetch", t, note=note)

# ---- G13 APIs
for api, path in [("xhr", "/x"), ("beacon", "/x"), ("es", "/es"), ("ping", "/ping"), ("ws", "/ws")]:
    pfx = {"ws": ("ws://c.localhost:%d" % P2, "ws://a.localhost:%d" % P1)}.get(api, (C2, A1))
    add("G13", "connect-src 'self'", A1, api, pfx[0] + path, note="cross-origin, expect blocked")
    add("G13", "connect-src 'self'", A1, api, pfx[1] + path, note="same-origin, expect allowed")
add("G13", "connect-src 'none'", A1, "ping", f"{A1}/ping", note="'none' vs same-origin ping")
add("G13", "connect-src 'self'", A1, "typeof", "fetchLater", raw=True)
add("G13", "connect-src 'self'", A1, "typeof", "EventSource", raw=True)

# ---- G14 reports
add("G14", "connect-src 'self'; report-uri /r", A1, "fetch", f"{C2}/x", note="enforce + report-uri", wait=1500)
add("G14", [(CSPRO, b"connect-src 'self'; report-uri /r")], A1, "fetch", f"{C2}/x", note="report-only + report-uri",
    wait=1500)
add("G14", f"connect-src 'self'; report-uri http://b.localhost:{P2}/r", A1, "ws", f"ws://c.localhost:{P2}/ws",
    note="cross-origin report-uri, ws", wait=1500)

# ---- additions (appended so earlier probe numbers stay stable)
for pol in ["connect-src http://*", "connect-src http://*.0.0.1", "connect-src *", "connect-src http://*:8082"]:
    add("G8", pol, A1, "fetch", "http://127.0.0.1/x" if ":8082" not in pol else f"http://127.0.0.1:{P2}/x",
        note="port-80 target so only the host wildcard is tested" if ":8082" not in pol else "")
add("G8", "connect-src http://*.localhost", A1, "fetch", "http://b.localhost/x", note="control: wildcard vs name")
add("G8", "connect-src http://*.localhost", A1, "fetch", "http://localhost/x", note="wildcard vs bare parent")
add("G1", "connect-src *", A1, "ws", f"wss://b.localhost:{P2}/ws", note="wss from http page")
add("G11", "connect-src http:", B1, "ws", f"ws://a.localhost:{P2}/ws", note="scheme-source http: vs ws")
add("G11", "connect-src https:", B1, "ws", f"wss://a.localhost:{P2}/ws", note="scheme-source https: vs wss")
add("G11", "connect-src http:", B1, "fetch", f"https://a.localhost:{P2}/x", note="scheme-source http: vs https")
add("G11", "connect-src ws:", B1, "ws", f"wss://a.localhost:{P2}/ws", note="scheme-source ws: vs wss")
add("G7", "connect-src 'self'", A1, "fetch", f"https://a.localhost:{P1}/x", note="'self' non-default port, https upgrade")
add("G7", "connect-src 'self'", A1, "ws", f"wss://a.localhost:{P1}/ws", note="'self' non-default port, wss")
add("G7", "connect-src 'self'", f"https://a.localhost:{P1}", "ws", f"ws://a.localhost:{P1}/ws", note="'self' https page, ws downgrade")
add("G7", "connect-src 'self'", f"https://a.localhost:{P1}", "fetch", f"http://a.localhost:{P1}/x", note="'self' https page, http downgrade")
add("G3", f"connect-src http://a.localhost:{P1}", B2, "fetch", f"https://a.localhost/x", note="explicit non-80 port vs https default")
add("G3", "connect-src http://a.localhost", "http://b.localhost", "fetch", "https://a.localhost/x", note="no port vs https default")
add("G3", "connect-src http://a.localhost", "http://b.localhost", "fetch", "https://a.localhost:80/x", note="no port vs https:80")

# ---- additions 2: directive-dropped vs policy-dropped, more control bytes
for note, sep in [("VT", b"\x0b"), ("DEL-in-host", None), ("NBSP UTF-8", b"\xc2\xa0"), ("0x01", b"\x01"), ("0x1F", b"\x1f")]:
    body = (b"http://a.loc\x7falhost:8081 " + C2.encode()) if sep is None else (A1.encode() + sep + C2.encode())
    pol = b"default-src 'none'; script-src 'unsafe-inline'; connect-src " + body
    add("G6", csp(pol), PAGE2, "fetch", f"{C2}/x",
        note=f"{note}: with default-src 'none' fallback -> blocked means only connect-src was dropped")
for note, sep in [("0x01", b"\x01"), ("0x1F", b"\x1f")]:
    for t in [f"{A1}/x", f"{C2}/x", f"{B2}/x"]:
        add("G6", csp(b"connect-src " + A1.encode() + sep + C2.encode()), PAGE2, "fetch", t, note=f"{note} between sources")

for note, sep in [("VT", b"\x0b"), ("DEL-in-host", None), ("NBSP UTF-8", b"\xc2\xa0"), ("0x01", b"\x01"), ("0x1F", b"\x1f")]:
    body = (b"http://a.loc\x7falhost:8081 " + C2.encode()) if sep is None else (A1.encode() + sep + C2.encode())
    pol = b"default-src 'none'; script-src 'unsafe-inline'; connect-src " + body
    add("G6", csp(pol), PAGE2, "fetch", f"{B2}/x", note=f"{note}: default-src 'none' fallback, unlisted target")

for i, p in enumerate(PROBES):
    p["pid"] = str(i)
    if not p["raw"]:
        p["target"] = p["target"] + ("&" if "?" in p["target"] else "?") + "pid=" + p["pid"]
