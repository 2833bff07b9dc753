"""Verdicts from a harness result file (shared by report.py and compare.py).

An attempt's verdict is what the SERVER saw, never the page's API result alone:
  allowed      the tagged request (GET/POST/WebSocket upgrade/ping/beacon/...) reached the server
  BLOCKED      it did not
  redirect:    hop1 = the redirecting request, hop2 = the redirect target
  dns-prefetch resolved / not resolved (Chromium's netlog: a HostResolver request for the name)
  preconnect   connected / no connection (a TLS ClientHello with that SNI reached the server)
  webrtc       STUN packets reached the STUN server or not
  data/blob/typeof  the page's own result
"""
import json, urllib.parse

NAV = {"nav_link", "nav_assign", "nav_form", "nav_form_post"}


def load(path):
    with open(path) as f:
        return json.load(f)


def page_out(res, i):
    for pg in res["page"]:
        for o in pg.get("out", []):
            if o["i"] == i:
                return o["out"]
    return None


def final_page(res):
    for pg in res["page"]:
        if pg.get("final"):
            return pg
    return res["page"][-1] if res["page"] else None


def devtools_error(res, att):
    """The net error DevTools reported for this attempt's request (matched by its tag in the URL)."""
    ids = set()
    for e in res["devtools"]:
        if e["method"] in ("Network.requestWillBeSent", "Network.webSocketCreated"):
            u = e["params"].get("url") or ""
            if att.get("tag") and ("cap=" + att["tag"] + "&" in u or u.endswith("cap=" + att["tag"])
                                   or "cap=" + att["tag"] + "#" in u):
                ids.add(e["params"]["requestId"])
    errs = [e["params"].get("errorText") + (":" + e["params"]["blockedReason"] if e["params"].get("blockedReason")
                                            else "")
            for e in res["devtools"] if e["method"] == "Network.loadingFailed" and e["params"].get("requestId") in ids]
    return errs[0] if errs else None


def seen(res, tag):
    return [r for r in res["requests"] if r.get("tag") == tag and r["kind"] not in ("page",)]


def verdict(res, i, meta=None):
    att = res["probe"]["attempts"][i]
    api = att["api"]
    po = page_out(res, i)
    if "redir" in att:
        h1 = bool(seen(res, att["tag"]))
        h2 = bool(seen(res, att["tag"] + ".r"))
        v = "followed" if h1 and h2 else ("hop1 only" if h1 else ("hop2 only?!" if h2 else "BLOCKED"))
        return v, po
    if api == "dnsprefetch":
        host = att["url"].lstrip("/").split("/")[0]
        mapped = host.replace(".test", ".localhost")
        hosts = (meta or {}).get("resolved_hosts") or {}
        hit = [h for h in hosts if urllib.parse.urlsplit(h).hostname in (host, mapped)]
        return ("resolved" if hit else "not resolved"), po
    if api == "preconnect":
        host = urllib.parse.urlsplit(att["url"]).hostname
        port = urllib.parse.urlsplit(att["url"]).port or 443
        hit = [a for a in res["accepts"] if a.get("sni") == host and a["port"] == port]
        req = [r for r in res["requests"] if (r.get("host") or "").split(":")[0] == host]
        return ("connected" if hit else "no connection") + ("+request" if req else ""), po
    if api == "webrtc":
        n = len(res["udp"])
        return (f"STUN sent ({n} pkts)" if n else "no STUN"), po
    if api in ("data", "blob", "typeof"):
        return (po or "?"), po
    if att.get("raw"):
        u = urllib.parse.urlsplit(att["url"])
        want = u.path + ("?" + u.query if u.query else "")
        host = u.hostname
        hit = [r for r in res["requests"] if r["path"] == want and (r.get("host") or "").split(":")[0] == host
               and r["kind"] != "page"]
        return ("allowed" if hit else "BLOCKED"), po
    return ("allowed" if seen(res, att["tag"]) else "BLOCKED"), po


def short(v):
    return {"allowed": "✓", "BLOCKED": "✗", "followed": "✓✓", "hop1 only": "✓✗"}.get(v, v)


def csp_events(res):
    pg = final_page(res) or {}
    return pg.get("ev", [])
