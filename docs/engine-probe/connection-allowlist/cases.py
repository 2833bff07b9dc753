"""The probes.  Each probe is one page (its URL and raw response headers) and a list of
attempts the page makes in order.  build() numbers them and tags each attempt's URL with
?cap=<pid>.<n> (unless the attempt is raw) so the server can tell which attempt reached it.

Names: every *.test name resolves to 127.0.0.21 (Chromium --host-resolver-rules); the page
is on a.test unless said otherwise; b.test is the usual listed target, c.test the unlisted one.
Firefox and WebKit run only the "ignored" group, on 127.0.0.21 origins (no name mapping).
"""
import urllib.parse

CONTROLLER = {"chromium": "http://ctl.test:8090/ctl", "firefox": "http://127.0.0.21:8090/ctl",
              "webkit": "http://127.0.0.21:8090/ctl"}
CA, CARO, CSP, RE = "Connection-Allowlist", "Connection-Allowlist-Report-Only", "Content-Security-Policy", \
    "Reporting-Endpoints"
NAV_APIS = {"nav_link", "nav_assign", "nav_form", "nav_form_post"}

PROBES = []


def probe(group, name, page, headers, attempts, engines=("chromium",), ctx="popup", settle=200, **info):
    PROBES.append(dict(group=group, name=name, page=page, headers=headers, attempts=attempts,
                       engines=list(engines), ctx=ctx, settle=settle, info=info))


def A(api, url, **kw):
    d = {"api": api, "url": url}
    d.update(kw)
    return d


def add_tag(url, tag):
    base, _, frag = url.partition("#")
    base += ("&" if "?" in base else "?") + "cap=" + tag
    return base + ("#" + frag if frag else "")


def endpoint(pid, name="ep", origin="https://rep.test:8443"):
    return f'{name}="{origin}/r/{name}?cap={pid}.rep"'


def build():
    out = []
    counters = {}
    for p in PROBES:
        counters[p["group"]] = counters.get(p["group"], 0) + 1
        pid = f"{p['group']}-{counters[p['group']]:03d}"
        atts = []
        for i, a in enumerate(p["attempts"]):
            a = dict(a)
            tag = f"{pid}.{i}"
            if "redir" in a:  # [first hop origin, final URL]; both hops tagged
                first, final = a["redir"]
                fin = final if a.get("raw_final") else add_tag(final, tag + ".r")
                a["url"] = f"{first}/redir?cap={tag}&code={a.get('code', 302)}&to=" + urllib.parse.quote(fin, safe="")
                a["final"] = fin
            elif not a.get("raw") and a["api"] not in ("data", "blob", "typeof", "dnsprefetch", "preconnect",
                                                          "webrtc"):
                a["url"] = add_tag(a["url"], tag)
            a["tag"] = tag
            atts.append(a)
        headers = [(k, v.replace("{EP}", endpoint(pid)) if isinstance(v, str) else v) for k, v in p["headers"]]
        nav = any(a["api"] in NAV_APIS for a in atts)
        wait = 3000 if nav else sum(a.get("timeout", 4000) for a in atts) + 3000
        out.append(dict(p, pid=pid, attempts=atts, headers=headers, url=f"{p['page']}/p/{pid}", wait=wait))
    return out


# ------------------------------------------------------------------ 1. grammar / parse
# Three fetches per header: the page's own origin, b.test (listed in most values), c.test (never).
G3 = [A("fetch", "https://a.test/same"), A("fetch", "https://b.test/x"), A("fetch", "https://c.test/x")]
GRAMMAR = [
    ("no header (baseline)", []),
    ("(response-origin)", [(CA, '(response-origin)')]),
    ('("https://b.test")', [(CA, '("https://b.test")')]),
    ('(response-origin "https://b.test")', [(CA, '(response-origin "https://b.test")')]),
    ('("https://b.test" response-origin) order', [(CA, '("https://b.test" response-origin)')]),
    ("() empty inner list", [(CA, '()')]),
    ("empty header value", [(CA, '')]),
    ("whitespace-only value", [(CA, '   ')]),
    ("( response-origin ) spaces inside parens", [(CA, '( response-origin )')]),
    ("three spaces between items", [(CA, '(response-origin   "https://b.test")')]),
    ("TAB between items", [(CA, '(response-origin\t"https://b.test")')]),
    ("leading/trailing spaces around value", [(CA, '   (response-origin "https://b.test")   ')]),
    ("two members: (response-origin), (\"https://b.test\")", [(CA, '(response-origin), ("https://b.test")')]),
    ("two members reversed", [(CA, '("https://b.test"), (response-origin)')]),
    ("two header lines: (response-origin) then (b)", [(CA, '(response-origin)'), (CA, '("https://b.test")')]),
    ("two header lines: (b) then (response-origin)", [(CA, '("https://b.test")'), (CA, '(response-origin)')]),
    ("two header lines: first empty value", [(CA, ''), (CA, '("https://b.test")')]),
    ("first member not an inner list: \"https://c.test\", (response-origin)",
     [(CA, '"https://c.test", (response-origin)')]),
    ("missing ) : (response-origin", [(CA, '(response-origin')]),
    ("bare token: response-origin", [(CA, 'response-origin')]),
    ('bare string: "https://b.test"', [(CA, '"https://b.test"')]),
    ('string "response-origin"', [(CA, '("response-origin" "https://b.test")')]),
    ("uppercase token RESPONSE-ORIGIN", [(CA, '(RESPONSE-ORIGIN "https://b.test")')]),
    ("unquoted URL (a token): (response-origin https://b.test)", [(CA, '(response-origin https://b.test)')]),
    ('scheme-less "b.test"', [(CA, '(response-origin "b.test")')]),
    ('"//b.test" (no scheme)', [(CA, '(response-origin "//b.test")')]),
    ('"*"', [(CA, '(response-origin "*")')]),
    ('"" (empty string)', [(CA, '(response-origin "")')]),
    ('regexp group "https://b.test/(x)"', [(CA, '(response-origin "https://b.test/(x)")')]),
    ('regexp group in host "https://(b|c).test"', [(CA, '(response-origin "https://(b|c).test")')]),
    ('"not a pattern"', [(CA, '(response-origin "not a pattern")')]),
    ('integer, boolean, byte-seq items', [(CA, '(response-origin 1 ?1 :aGk=: "https://b.test")')]),
    ("item parameters", [(CA, '(response-origin;x=1 "https://b.test";y)')]),
    ("duplicate items", [(CA, '(response-origin "https://b.test" "https://b.test")')]),
    ("unknown list parameter ;foo=bar", [(CA, '(response-origin "https://b.test");foo=bar')]),
    ("; report-to=ep (space after ;)", [(CA, '(response-origin "https://b.test"); report-to=ep')]),
    ("space before ; : (..) ;report-to=ep", [(CA, '(response-origin "https://b.test") ;report-to=ep')]),
    ('report-to="ep" (a string)', [(CA, '(response-origin "https://b.test");report-to="ep"')]),
    ("all three parameters", [(CA, '(response-origin "https://b.test");report-to=ep;redirects=allow;webrtc=allow')]),
    ("trailing comma", [(CA, '(response-origin "https://b.test"),')]),
    ("two lists without comma", [(CA, '(response-origin) ("https://b.test")')]),
    ("unterminated string", [(CA, '(response-origin "https://b.test)')]),
    ("raw UTF-8 in a string: \"https://bücher.test\"", [(CA, '(response-origin "https://bücher.test")'.encode())]),
    ("backslash-escape in string", [(CA, '(response-origin "https://b.test/\\\\x")')]),
    ("lowercase header name", [("connection-allowlist", '("https://b.test")')]),
    ("report-only header only, () ", [(CARO, '()')]),
    ("report-only (response-origin) + enforced (b)", [(CARO, '(response-origin)'), (CA, '("https://b.test")')]),
    ("enforced () + report-only (b)", [(CA, '()'), (CARO, '("https://b.test")')]),
    ("report-only malformed: (response-origin", [(CARO, '(response-origin')]),
    ('"https://b.test/*" (explicit wildcard path)', [(CA, '("https://b.test/*")')]),
]
for name, hdrs in GRAMMAR:
    probe("gram", name, "https://a.test", hdrs, G3)

# fail-closed values also block navigation? (one nav each)
for name, hdrs in [("missing ) : (response-origin", [(CA, '(response-origin')]),
                   ("() empty inner list", [(CA, '()')]),
                   ("bare token: response-origin", [(CA, 'response-origin')])]:
    probe("gram", name + " / same-origin link", "https://a.test", hdrs, [A("nav_link", "https://a.test/landing")])

# ------------------------------------------------------------------ 2. URLPattern semantics
HTTPS_TARGETS = [
    A("fetch", "https://a.test/p"), A("fetch", "https://a.test:8443/p"),
    A("fetch", "https://b.test/p"), A("fetch", "https://b.test:8443/p"),
    A("fetch", "https://api.b.test/p"), A("fetch", "https://x.api.b.test/p"), A("fetch", "https://xb.test/p"),
    A("fetch", "https://b.test/"), A("fetch", "https://b.test/api/p"), A("fetch", "https://b.test/api/"),
    A("fetch", "https://b.test/api"), A("fetch", "https://b.test/apix"), A("fetch", "https://b.test/API/p"),
    A("fetch", "https://b.test/%61pi/p"),
    A("fetch", "https://b.test/q1?x=1", raw=True), A("fetch", "https://b.test/q2?y=2", raw=True),
    A("fetch", "https://b.test/h1#frag"),
    A("fetch", "https://127.0.0.21/p"), A("fetch", "https://127.0.0.21:8443/p"),
    A("fetch", "https://xn--bcher-kva.test/p"), A("fetch", "https://b.test./p"),
    A("ws", "wss://b.test/ws"), A("ws", "wss://b.test:8443/ws"), A("ws", "wss://api.b.test/ws"),
    A("fetch", "https://c.test/p"),
]
HTTPS_PATTERNS = [
    "https://b.test", "https://b.test/*", "https://b.test/", "https://b.test/*/", "https://b.test/api/*",
    "https://b.test/api/", "https://b.test/api", "https://b.test/api*", "https://b.test/api{/*}?",
    "https://b.test/:seg", "https://*.b.test", "https://*.b.test/*", "https://{*.}?b.test", "https://*b.test",
    "https://*.test", "https://*", "https://*:*", "https://*/*", "*://b.test", "http{s}?://b.test",
    "https://b.test:*", "https://b.test:8443", "https://b.test:443", "https://B.TEST", "HTTPS://b.test",
    "https://b.test/API/*", "https://b.test/%61pi/*", "https://127.0.0.21", "https://127.0.0.21:*",
    "https://127.0.0.*", "https://bücher.test", "https://xn--bcher-kva.test", "https://b.test.",
    "wss://b.test", "wss://b.test:8443", "https://b.test/*?x=1", "https://b.test/q1?x=1", "https://b.test/*?*",
    "https://b.test/*#frag", "https://b.test/h1", "https://user:pw@b.test", "https://b.test:8443/api/*",
]
for pat in HTTPS_PATTERNS:
    val = '("%s")' % pat.replace("\\", "\\\\").replace('"', '\\"')
    val = val.encode() if any(ord(c) > 127 for c in val) else val
    probe("urlp", pat, "https://a.test", [(CA, val)], HTTPS_TARGETS)

HTTP_TARGETS = [
    A("fetch", "http://a.test/p"), A("fetch", "http://a.test:8080/p"),
    A("fetch", "http://b.test/p"), A("fetch", "http://b.test:8080/p"), A("fetch", "https://b.test/p"),
    A("fetch", "https://b.test:8443/p"), A("fetch", "http://b.test:443/p"), A("fetch", "https://b.test:80/p"),
    A("fetch", "http://api.b.test/p"), A("fetch", "http://127.0.0.21/p"),
    A("ws", "ws://b.test/ws"), A("ws", "ws://b.test:8080/ws"), A("ws", "wss://b.test/ws"),
    A("ws", "wss://b.test:8443/ws"), A("ws", "ws://api.b.test/ws"), A("fetch", "http://c.test/p"),
]
HTTP_PATTERNS = [
    "http://b.test", "https://b.test", "http{s}?://b.test", "*://b.test", "ws://b.test", "wss://b.test",
    "ws{s}?://b.test", "http://b.test:8080", "http://b.test:*", "http://b.test:80", "http://b.test:443",
    "https://b.test:80", "ws://b.test:8080", "http://*", "http://*:*", "http{s}?://*:*", "http://127.0.0.21",
    "http://*.b.test",
]
for pat in HTTP_PATTERNS:
    probe("urlp", pat + " (http page)", "http://a.test", [(CA, '("%s")' % pat)], HTTP_TARGETS)

# ------------------------------------------------------------------ 3. APIs, subresources, navigations
API_LIST = [("fetch", {}), ("fetch_cors", {}), ("xhr", {}), ("es", {}), ("beacon", {}), ("ping", {}),
            ("fetchlater", {}), ("img", {}), ("script", {}), ("style", {}), ("preload", {}), ("preload_img", {}),
            ("prefetch", {}), ("iframe", {}), ("iframe_nav", {}), ("srcdoc_self", {})]


def api_attempts(host):
    at = [A(api, f"https://{host}/{api}", **kw) for api, kw in API_LIST]
    at.insert(3, A("ws", f"wss://{host}/ws"))
    at.append(A("ping_nav", f"https://{host}/ping_nav", href="https://b.test/pinghref"))
    return at


for hdr_name, hdrs in [("no header", []), ('("https://b.test")', [(CA, '("https://b.test")')]),
                       ('report-only ("https://b.test");report-to', [(CARO, '("https://b.test");report-to=ep'),
                                                                      (RE, "{EP}")])]:
    probe("api", f"{hdr_name}: every API to listed b.test", "https://a.test", hdrs, api_attempts("b.test"), settle=1500)
    probe("api", f"{hdr_name}: every API to unlisted c.test", "https://a.test", hdrs, api_attempts("c.test"),
          settle=1500)
    probe("api", f"{hdr_name}: same-origin worker, data:, blob:, fetchLater type", "https://a.test", hdrs,
          [A("worker", "https://a.test/worker.js"), A("data", ""), A("blob", ""), A("typeof", "fetchLater")],
          settle=800)

# http page: ws matched as http
probe("api", '("http://b.test:8080") http page: ws/fetch', "http://a.test", [(CA, '("http://b.test:8080")')],
      [A("ws", "ws://b.test:8080/ws"), A("fetch", "http://b.test:8080/x"), A("es", "http://b.test:8080/es"),
       A("ws", "ws://c.test:8080/ws")])

# DNS prefetch / preconnect: unique host names, seen in the netlog / by the server's TCP accept
DNS_PREFETCH_HOSTS = [f"dp{x}{v}.test" for v in "ner" for x in "ab"]
for v, hdr_name, kind in [("n", "no header", None), ("e", "enforced", CA), ("r", "report-only;report-to", CARO)]:
    val = f'(response-origin "https://dpa{v}.test:8443/only" "https://pca{v}.test")'
    hdrs = [] if kind is None else [(kind, val + (";report-to=ep" if kind == CARO else ""))] + (
        [(RE, "{EP}")] if kind == CARO else [])
    probe("hint", f"{hdr_name} {val if kind else ''}: dns-prefetch, preconnect", "https://a.test", hdrs,
          [A("dnsprefetch", f"//dpa{v}.test"), A("dnsprefetch", f"//dpb{v}.test"),
           A("preconnect", f"https://pca{v}.test"), A("preconnect", f"https://pcb{v}.test"),
           A("preconnect", f"https://pca{v}.test:8443")], settle=1500)

# WebRTC: STUN server on 127.0.0.21:3478
for hdr_name, hdrs in [("no header", []), ("(response-origin)", [(CA, '(response-origin)')]),
                       ("(response-origin);webrtc=allow", [(CA, '(response-origin);webrtc=allow')]),
                       ("(response-origin);webrtc=block", [(CA, '(response-origin);webrtc=block')]),
                       ("(response-origin);webrtc=yes (unknown token)", [(CA, '(response-origin);webrtc=yes')]),
                       ('(response-origin);webrtc="allow" (string)', [(CA, '(response-origin);webrtc="allow"')]),
                       ("(response-origin);webrtc=?1 (boolean)", [(CA, '(response-origin);webrtc=?1')]),
                       ('(response-origin "stun:127.0.0.21:3478")', [(CA, '(response-origin "stun:127.0.0.21:3478")')]),
                       ("report-only (response-origin);report-to", [(CARO, '(response-origin);report-to=ep'),
                                                                   (RE, "{EP}")])]:
    probe("rtc", hdr_name, "https://a.test", hdrs, [A("webrtc", "stun:127.0.0.21:3478", timeout=6000)], settle=800)

# navigations: one per page (the page may be gone afterwards)
NAVS = ["nav_link", "nav_assign", "nav_form", "nav_form_post"]
for hdr_name, hdrs in [("no header", []), ('("https://b.test")', [(CA, '("https://b.test")')]),
                       ("(response-origin)", [(CA, '(response-origin)')]),
                       ('("https://b.test");report-to', [(CA, '("https://b.test");report-to=ep'), (RE, "{EP}")]),
                       ('report-only ("https://b.test");report-to', [(CARO, '("https://b.test");report-to=ep'),
                                                                      (RE, "{EP}")])]:
    for nav in NAVS:
        for tgt in ("https://b.test/land", "https://c.test/land", "https://a.test/land"):
            if hdr_name in ("no header", '("https://b.test");report-to') and tgt != "https://c.test/land":
                continue
            probe("nav", f"{hdr_name}: {nav} -> {tgt}", "https://a.test", hdrs, [A(nav, tgt)], settle=0)
            if "report-to" in hdr_name:  # the report needs time to leave before the page goes
                PROBES[-1]["attempts"] = [A("fetch", "https://c.test/before-nav", pause=1500), A(nav, tgt)]
    for nav in ("nav_open", "nav_blank_link"):
        probe("nav", f"{hdr_name}: {nav} -> b / c", "https://a.test", hdrs,
              [A(nav, "https://b.test/land"), A(nav, "https://c.test/land")], settle=500)

# ------------------------------------------------------------------ 4. redirects
RD = '(response-origin "https://b.test" "https://d.test")'
REDIR_ATTEMPTS = [
    A("fetch", "", redir=["https://a.test", "https://b.test/final"]),   # same-origin -> listed
    A("fetch", "", redir=["https://b.test", "https://b.test/final"]),   # listed -> listed (same origin)
    A("fetch", "", redir=["https://b.test", "https://d.test/final"]),   # listed -> listed (other origin)
    A("fetch", "", redir=["https://b.test", "https://c.test/final"]),   # listed -> unlisted
    A("fetch", "", redir=["https://c.test", "https://b.test/final"]),   # unlisted -> listed
    A("fetch", "", redir=["https://b.test", "https://b.test/final"], code=307),
    A("fetch", "", redir=["https://b.test", "https://b.test/final"], code=301),
    A("img", "", redir=["https://b.test", "https://b.test/final"]),
    A("img", "", redir=["https://b.test", "https://c.test/final"]),
    A("es", "", redir=["https://b.test", "https://b.test/final"]),
    A("iframe", "", redir=["https://b.test", "https://c.test/final"]),
]
for suffix in ["", ";redirects=allow", ";redirects=block", ";redirects=follow", ';redirects="allow"',
               ";redirects=?1", ";redirects=?0", ";redirects=ALLOW", ";redirects=allow;redirects=block",
               ";redirects=block;redirects=allow", ";redirects"]:
    probe("redir", f"{RD}{suffix}", "https://a.test", [(CA, RD + suffix)], REDIR_ATTEMPTS)
probe("redir", "no header (baseline)", "https://a.test", [], REDIR_ATTEMPTS)
probe("redir", f"report-only {RD};report-to", "https://a.test", [(CARO, RD + ";report-to=ep"), (RE, "{EP}")],
      REDIR_ATTEMPTS, settle=1500)
for suffix in ["", ";redirects=allow"]:
    for first, final in [("https://b.test", "https://b.test/final"), ("https://b.test", "https://c.test/final"),
                         ("https://c.test", "https://b.test/final")]:
        probe("redir", f"{RD}{suffix}: nav_link {first}/redir -> {final}", "https://a.test", [(CA, RD + suffix)],
              [A("nav_link", "", redir=[first, final])], settle=0)

# ------------------------------------------------------------------ 5. response-origin vs 'self'
ORIGIN_PAGES = ["http://a.test", "http://a.test:8080", "https://a.test", "https://a.test:8443", "https://127.0.0.21:8443",
                "http://127.0.0.21"]
ORIGIN_TARGETS = [
    A("fetch", "http://a.test/o"), A("fetch", "http://a.test:8080/o"), A("fetch", "http://a.test:443/o"),
    A("fetch", "https://a.test/o"), A("fetch", "https://a.test:8443/o"), A("fetch", "https://a.test:8080/o"),
    A("fetch", "https://a.test:80/o"),
    A("ws", "ws://a.test/ws"), A("ws", "ws://a.test:8080/ws"), A("ws", "wss://a.test/ws"),
    A("ws", "wss://a.test:8443/ws"), A("ws", "wss://a.test:8080/ws"),
    A("fetch", "https://api.a.test/o"), A("fetch", "https://127.0.0.21/o"), A("fetch", "https://127.0.0.21:8443/o"),
    A("fetch", "http://127.0.0.21/o"), A("ws", "wss://127.0.0.21:8443/ws"),
]
for page in ORIGIN_PAGES:
    probe("origin", f"{page}: (response-origin)", page, [(CA, "(response-origin)")], ORIGIN_TARGETS)
    probe("origin", f"{page}: CSP connect-src 'self' (no allowlist)", page, [(CSP, "connect-src 'self'")],
          ORIGIN_TARGETS)
    probe("origin", f"{page}: no header (baseline: mixed content etc.)", page, [], ORIGIN_TARGETS)

# ------------------------------------------------------------------ 6. with CSP; reports
CSP_TARGETS = [A("fetch", "https://b.test/x"), A("fetch", "https://c.test/x"), A("fetch", "https://d.test/x"),
               A("ws", "wss://b.test/ws"), A("ws", "wss://c.test/ws")]
for name, hdrs in [
    ("CSP b c; CA (c d)", [(CSP, "connect-src https://b.test https://c.test wss://b.test wss://c.test"),
                           (CA, '("https://c.test" "https://d.test")')]),
    ("CSP b c; CA (c d);report-to; CSP report-to", [
        (CSP, "connect-src https://b.test https://c.test wss://b.test wss://c.test; report-to ep"),
        (CA, '("https://c.test" "https://d.test");report-to=ep'), (RE, "{EP}")]),
    ("CSP b c; CA-RO (c d);report-to", [(CSP, "connect-src https://b.test https://c.test wss://b.test wss://c.test"),
                                        (CARO, '("https://c.test" "https://d.test");report-to=ep'), (RE, "{EP}")]),
    ("CSP-RO b c; CA (c d);report-to; CSP-RO report-to", [
        ("Content-Security-Policy-Report-Only", "connect-src https://b.test https://c.test wss://b.test wss://c.test; report-to ep"),
        (CA, '("https://c.test" "https://d.test");report-to=ep'), (RE, "{EP}")]),
    ("CA (b);report-to=ep, endpoint not in the list", [(CA, '("https://b.test");report-to=ep'), (RE, "{EP}")]),
    ("CA-RO (b);report-to=ep", [(CARO, '("https://b.test");report-to=ep'), (RE, "{EP}")]),
    ("CA-RO (b);report-to=nosuch (endpoint not defined)", [(CARO, '("https://b.test");report-to=nosuch'),
                                                           (RE, "{EP}")]),
    ("CA-RO (b);report-to=ep without Reporting-Endpoints", [(CARO, '("https://b.test");report-to=ep')]),
    ("CA-RO (b) without report-to, with Reporting-Endpoints", [(CARO, '("https://b.test")'), (RE, "{EP}")]),
    ("CA (b);report-to + CA-RO (response-origin);report-to", [(CA, '("https://b.test" "https://c.test");report-to=ep'),
                                                              (CARO, '(response-origin);report-to=ep'), (RE, "{EP}")]),
]:
    probe("csp", name, "https://a.test", hdrs, CSP_TARGETS, settle=2500)
probe("csp", "http page: CA-RO (b);report-to=ep, Reporting-Endpoints https", "http://a.test",
      [(CARO, '("http://b.test");report-to=ep'), (RE, "{EP}")],
      [A("fetch", "http://b.test/x"), A("fetch", "http://c.test/x")], settle=2500)
probe("csp", "report body with query, fragment and credentials in URLs", "https://a.test",
      [(CARO, '("https://b.test");report-to=ep'), (RE, "{EP}")],
      [A("fetch", "https://c.test/secret/path?token=abc#frag", raw=True),
       A("img", "https://user:pw@c.test/img/path?token=abc#frag", raw=True)], settle=2500)

# ------------------------------------------------------------------ 7. translation connect-src -> allowlist
XL_HTTPS = [
    A("fetch", "https://a.test/x"), A("fetch", "https://a.test:8443/x"),
    A("fetch", "https://b.test/x"), A("fetch", "https://b.test:8443/x"), A("fetch", "https://api.b.test/x"),
    A("fetch", "https://x.api.b.test/x"), A("fetch", "https://b.test/path/x"), A("fetch", "https://b.test/path/"),
    A("fetch", "https://b.test/path"), A("fetch", "https://b.test/file"), A("fetch", "https://b.test/file/x"),
    A("fetch", "https://b.test/filex"), A("fetch", "https://c.test/x"), A("fetch", "https://127.0.0.21/x"),
    A("fetch", "", redir=["https://b.test", "https://b.test/x2"]),
    A("fetch", "", redir=["https://b.test/path/r", "https://b.test/other"]),
    A("fetch", "", redir=["https://b.test", "https://c.test/x2"]),
    A("ws", "wss://a.test/ws"), A("ws", "wss://a.test:8443/ws"), A("ws", "wss://b.test/ws"),
    A("ws", "wss://b.test:8443/ws"), A("ws", "wss://api.b.test/ws"), A("ws", "wss://c.test/ws"),
    A("es", "https://b.test/es"), A("beacon", "https://b.test/beacon"), A("xhr", "https://b.test/xhr"),
]
XL_HTTP = [
    A("fetch", "http://a.test/x"), A("fetch", "http://a.test:8080/x"), A("fetch", "https://a.test/x"),
    A("fetch", "https://a.test:8443/x"), A("fetch", "https://a.test:8080/x"), A("fetch", "https://a.test:80/x"),
    A("fetch", "http://b.test/x"), A("fetch", "http://b.test:8080/x"), A("fetch", "https://b.test/x"),
    A("fetch", "https://b.test:8443/x"), A("fetch", "https://b.test:8080/x"), A("fetch", "http://api.b.test/x"),
    A("fetch", "https://api.b.test/x"), A("fetch", "http://b.test/path/x"), A("fetch", "http://b.test/file"),
    A("fetch", "http://c.test/x"),
    A("fetch", "", redir=["http://b.test", "https://b.test/x2"]),
    A("ws", "ws://a.test/ws"), A("ws", "ws://a.test:8080/ws"), A("ws", "wss://a.test/ws"),
    A("ws", "wss://a.test:8443/ws"), A("ws", "wss://a.test:8080/ws"), A("ws", "wss://a.test:80/ws"),
    A("ws", "ws://b.test/ws"),
    A("ws", "ws://b.test:8080/ws"), A("ws", "wss://b.test/ws"), A("ws", "wss://b.test:8443/ws"),
    A("ws", "wss://b.test:8080/ws"), A("ws", "ws://api.b.test/ws"), A("ws", "wss://api.b.test/ws"),
    A("ws", "ws://c.test/ws"),
    A("es", "http://b.test/es"), A("beacon", "http://b.test/beacon"),
]
# (source, proposal) -- a proposal is a string or a function of the page (scheme, host, port): the
# middleware that emits the header knows the response's own scheme, host and port.
R = ";redirects=allow"


def self_prop(scheme, host, port):
    if scheme == "https":
        return "(response-origin)" + R
    extra = f'"https://{host}:{port}"' if port != 80 else f'"https://{host}" "https://{host}:80"'
    return f"(response-origin {extra})" + R


def schemeless_prop(scheme, host, port):
    return ('("https://b.test")' if scheme == "https" else '("http{s}?://b.test")') + R


XLATE = [
    ("'self'", self_prop),
    ("'self'", "(response-origin)" + R),                     # naive: shows what is missing on http pages
    ("https://b.test", '("https://b.test")' + R),
    ("https://b.test:443", '("https://b.test")' + R),
    ("https://b.test:8443", '("https://b.test:8443")' + R),
    ("https://b.test:*", '("https://b.test:*")' + R),
    ("https://*.b.test", '("https://*.b.test")' + R),
    ("wss://b.test", '("https://b.test")' + R),
    ("ws://b.test", '("http{s}?://b.test")' + R),
    ("http://b.test", '("http{s}?://b.test")' + R),
    ("http://b.test:80", '("http{s}?://b.test")' + R),
    ("http://b.test:8080", '("http://b.test:8080")' + R),
    ("b.test", schemeless_prop),
    ("https://b.test/path/", '("https://b.test/path/*")' + R),
    ("https://b.test/file", '("https://b.test/file")' + R),
    ("https:", '("https://*:*")' + R),
    ("wss:", '("https://*:*")' + R),
    ("http:", '("http{s}?://*:*")' + R),
    ("ws:", '("http{s}?://*:*")' + R),
    ("*", '("http{s}?://*:*")' + R),
    ("https://127.0.0.21", '("https://127.0.0.21")' + R),
    ("'none'", "()"),
    ("https://b.test", '("https://b.test")'),   # without redirects=allow: shows why it is needed
]
XL_PAGES = ["https://a.test", "http://a.test", "http://a.test:8080", "https://a.test:8443"]
_seen = set()
for src, prop in XLATE:
    for page in XL_PAGES:
        if src != "'self'" and page.endswith((":8080", ":8443")):
            continue
        if prop == '("https://b.test")' and page.startswith("http:"):
            continue
        scheme, rest = page.split("://")
        host = rest.split(":")[0]
        port = int(rest.split(":")[1]) if ":" in rest else (443 if scheme == "https" else 80)
        p = prop(scheme, host, port) if callable(prop) else prop
        if prop == "(response-origin)" + R and src == "'self'" and scheme == "https":
            continue  # same as self_prop there
        grid = XL_HTTPS if scheme == "https" else XL_HTTP
        info = dict(src=src, page_origin=page, proposal=p)
        if (src, page) not in _seen:
            _seen.add((src, page))
            probe("xlate", f"{src} @ {page} :: CSP only", page, [(CSP, f"connect-src {src}")], grid, kind="csp", **info)
        probe("xlate", f"{src} @ {page} :: CSP + CA {p}", page, [(CSP, f"connect-src {src}"), (CA, p)], grid,
              kind="both", **info)
        probe("xlate", f"{src} @ {page} :: CA only {p}", page, [(CA, p)], grid, kind="ca", **info)

# ------------------------------------------------------------------ engines that ignore the header
IGN_TARGETS = [A("fetch", "http://127.0.0.21/self"), A("fetch", "http://127.0.0.21:8080/x"),
               A("ws", "ws://127.0.0.21:8080/ws"), A("img", "http://127.0.0.21:8080/img"),
               A("iframe", "http://127.0.0.21:8080/frame")]
for name, hdrs in [("no header", []), ("() empty", [(CA, "()")]), ("(response-origin)", [(CA, "(response-origin)")]),
                   ("malformed (response-origin", [(CA, "(response-origin")]),
                   ("CSP connect-src 'self' (control: the harness sees blocks)", [(CSP, "connect-src 'self'")])]:
    probe("ignored", name, "http://127.0.0.21", hdrs, IGN_TARGETS, engines=("chromium", "firefox", "webkit"),
          ctx="iframe")
for name, hdrs in [("() empty", [(CA, "()")]), ("(response-origin)", [(CA, "(response-origin)")])]:
    probe("ignored", name + ": top-level link to :8080", "http://127.0.0.21", hdrs,
          [A("nav_link", "http://127.0.0.21:8080/land")], engines=("chromium", "firefox", "webkit"), ctx="iframe",
          settle=0)
