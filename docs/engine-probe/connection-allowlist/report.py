#!/usr/bin/env python3
"""Tables from a run directory: report.py DIR > DIR/tables.md
Reads DIR/chromium.json (and firefox.json / webkit.json if present)."""
import json, os, re, sys, urllib.parse
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from analyze import load, verdict, short, page_out, final_page, devtools_error, csp_events

D = sys.argv[1]
C = load(os.path.join(D, "chromium.json"))
META = C["meta"]
BYG = {}
for r in C["results"]:
    BYG.setdefault(r["probe"]["group"], []).append(r)


def hdrs(r):
    out = []
    for k, v in r["probe"]["headers"]:
        if isinstance(v, dict):
            v = v["utf8_bytes"] + " (raw UTF-8 bytes)"
        out.append(f"`{k}: {v}`".replace("|", "\\|"))
    return "<br>".join(out) if out else "(none)"


def cell(s):
    return str(s).replace("|", "\\|").replace("\n", " ")


def issues(r):
    s = []
    for e in r["devtools"]:
        if e["method"] == "Audits.issueAdded" and e["params"]["issue"]["code"] == "ConnectionAllowlistIssue":
            d = e["params"]["issue"]["details"]["connectionAllowlistIssueDetails"]
            if "/p/" + r["probe"]["pid"] in d.get("request", {}).get("url", ""):
                s.append(d["error"])
    return ", ".join(dict.fromkeys(s))


def console(r):
    s = []
    for e in r["devtools"]:
        if e["method"] == "Log.entryAdded":
            s.append(e["params"]["entry"]["text"])
        elif e["method"] == "Runtime.consoleAPICalled":
            s.append(" ".join(str(a.get("value", a.get("description", ""))) for a in e["params"].get("args", [])))
    return list(dict.fromkeys(s))


def vlist(r):
    return [verdict(r, i, META)[0] for i in range(len(r["probe"]["attempts"]))]


P = print


def reported(r, att):
    """The report body whose connection carries this attempt's tag."""
    out = []
    for rep in r["reports"]:
        for x in rep.get("json") or []:
            b = x.get("body") or {}
            c = b.get("connection") or ""
            if "cap=" + att["tag"] + "&" in c or c.endswith("cap=" + att["tag"]) or "cap=" + att["tag"] + "#" in c:
                out.append(f"{b.get('disposition')}: {c.split('?')[0]}")
    return "; ".join(dict.fromkeys(out)) or "none"


def sec_grammar():
    P("## 1. Grammar and parsing (page https://a.test; fetch to the page's own origin, to b.test, to c.test)\n")
    P("Classification: **ignored** = behaves as no header; **fails closed** = every connection blocked.\n")
    P("| # | value(s) | own origin | b.test | c.test | reading | DevTools issue(s) |")
    P("|---|---|---|---|---|---|---|")
    base = None
    for r in BYG["gram"]:
        v = vlist(r)
        if r["probe"]["name"].startswith("no header"):
            base = v
        if len(v) == 3:
            if v == ["allowed"] * 3:
                reading = "ignored (no policy)" if r["probe"]["headers"] and not any(
                    k.lower() == "connection-allowlist-report-only" for k, _ in r["probe"]["headers"]) else "no enforcement"
                if not r["probe"]["headers"]:
                    reading = "baseline"
            elif v == ["BLOCKED"] * 3:
                reading = "**fails closed** (blocks everything)" if issues(r) else "blocks everything (empty list)"
            else:
                allowed = [n for n, x in zip(["own origin", "b.test", "c.test"], v) if x == "allowed"]
                reading = "parsed: allows " + " + ".join(allowed)
        else:
            reading = "navigation: " + v[0]
        P(f"| {r['probe']['pid']} | {hdrs(r)} | " + " | ".join(short(x) for x in (v + ["", "", ""])[:3])
          + f" | {reading} | {issues(r) or ''} |")
    P()


def matrix(rows, title):
    targets = rows[0]["probe"]["attempts"]
    P(title + "\n")
    P("Targets (columns):  " + "; ".join(f"**{i}** `{a['api']} {a['url'].split('?cap=')[0].split('&cap=')[0]}`"
                                          for i, a in enumerate(targets)) + "\n")
    P("| pattern | " + " | ".join(str(i) for i in range(len(targets))) + " | issue |")
    P("|---|" + "---|" * len(targets) + "---|")
    for r in rows:
        v = vlist(r)
        P(f"| `{cell(r['probe']['name'])}` | " + " | ".join(short(x) for x in v) + f" | {issues(r)} |")
    P()


def sec_urlp():
    P("## 2. URLPattern semantics (one pattern per page, no `response-origin`; ✓ = reached the server)\n")
    https = [r for r in BYG["urlp"] if r["probe"]["page"].startswith("https")]
    http = [r for r in BYG["urlp"] if r["probe"]["page"].startswith("http:")]
    matrix(https, "### 2a. Page https://a.test (port 443)")
    matrix(http, "### 2b. Page http://a.test (port 80)")


def sec_api():
    P("## 3. APIs, subresources, frames (page https://a.test)\n")
    rows = [r for r in BYG["api"] if "every API" in r["probe"]["name"]]
    cols = [(r["probe"]["name"].split(":")[0], r["probe"]["name"].split(" to ")[-1], r) for r in rows]
    atts = rows[0]["probe"]["attempts"]
    P("| API | " + " | ".join(f"{h}<br>→ {t}" for h, t, _ in cols) + " | page result when blocked (enforced, c.test) | DevTools error | report (report-only, c.test) |")
    P("|---|" + "---|" * len(cols) + "---|---|---|")
    ro_c = [r for h, t, r in cols if h.startswith("report-only") and "c.test" in t][0]
    enforced_c = [r for h, t, r in cols if h.startswith('("https') and "c.test" in t][0]
    for i, a in enumerate(atts):
        P(f"| {a['api']} | " + " | ".join(short(verdict(r, i, META)[0]) for _, _, r in cols)
          + f" | {cell(page_out(enforced_c, i))} | {devtools_error(enforced_c, enforced_c['probe']['attempts'][i]) or ''} | "
          + cell(reported(ro_c, ro_c["probe"]["attempts"][i])) + " |")
    P()
    P("Other probes in this group:\n")
    for r in BYG["api"]:
        if "every API" in r["probe"]["name"]:
            continue
        P(f"- {r['probe']['pid']} {hdrs(r)} ({r['probe']['page']}): " + "; ".join(
            f"{a['api']} {a['url'].split('?cap')[0]} → **{verdict(r, i, META)[0]}** ({page_out(r, i)})"
            for i, a in enumerate(r["probe"]["attempts"])))
    P()
    P("### Resource hints (dns-prefetch: Chromium's netlog shows a HostResolver request for the name or not; "
      "preconnect: a TLS ClientHello with that SNI reached the server or not)\n")
    for r in BYG["hint"]:
        P(f"- {r['probe']['pid']} {hdrs(r)}: " + "; ".join(
            f"{a['api']} `{a['url']}` → **{verdict(r, i, META)[0]}**" for i, a in enumerate(r["probe"]["attempts"])))
    P()
    P("### WebRTC (RTCPeerConnection with `stun:127.0.0.21:3478`, data channel, offer; the STUN server logs packets)\n")
    P("| value | STUN packets | page: ICE gathering | reports |")
    P("|---|---|---|---|")
    for r in BYG["rtc"]:
        P(f"| {hdrs(r)} | {verdict(r, 0, META)[0]} | {cell(page_out(r, 0))} | {len(r['reports'])} |")
    P()


def sec_nav():
    P("## 3b. Navigations (one per page; ✓ = the navigation request reached the server)\n")
    P("| value | navigation | target | verdict | page afterwards | report |")
    P("|---|---|---|---|---|---|")
    for r in BYG["nav"]:
        for i, a in enumerate(r["probe"]["attempts"]):
            po = page_out(r, i)
            after = "stayed (" + po + ")" if po else "left (error page or target)"
            P(f"| {hdrs(r)} | {a['api']} | `{a['url'].split('?cap')[0]}` | {verdict(r, i, META)[0]} | {after} | "
              f"{cell(reported(r, a)) if r['reports'] else ''} |")
    for r in BYG.get("gram", []):
        if "link" in r["probe"]["name"]:
            P(f"| {hdrs(r)} | nav_link | `{r['probe']['attempts'][0]['url'].split('?cap')[0]}` | {verdict(r, 0, META)[0]} | |")
    P()


def sec_redir():
    P("## 4. Redirects (page https://a.test; list `(response-origin \"https://b.test\" \"https://d.test\")` + parameter)\n")
    rows = [r for r in BYG["redir"] if not any(a["api"] == "nav_link" for a in r["probe"]["attempts"])]
    atts = rows[0]["probe"]["attempts"]
    P("Attempts: " + "; ".join(f"**{i}** {a['api']} {a['redir'][0]} →{a.get('code', 302)}→ {a['redir'][1]}"
                               for i, a in enumerate(atts)) + "\n")
    P("✓✓ = both hops reached the server; ✓✗ = the redirect response was received but not followed; ✗ = not sent.\n")
    P("| value | " + " | ".join(str(i) for i in range(len(atts))) + " | reports |")
    P("|---|" + "---|" * len(atts) + "---|")
    for r in rows:
        P(f"| {hdrs(r)} | " + " | ".join(short(x) for x in vlist(r)) + f" | {len(r['reports'])} |")
    P()
    for r in BYG["redir"]:
        if any(a["api"] == "nav_link" for a in r["probe"]["attempts"]):
            a = r["probe"]["attempts"][0]
            P(f"- navigation (link click) {a['redir'][0]}/redir → {a['redir'][1]} with {hdrs(r)}: **{vlist(r)[0]}**")
    P()
    ro = [r for r in BYG["redir"] if r["reports"]]
    for r in ro:
        P(f"Report-only redirect reports ({r['probe']['pid']}): ")
        for rep in r["reports"]:
            for x in rep["json"] or []:
                P(f"- `{json.dumps(x['body'])}`")
    P()


def sec_origin():
    P("## 5. `response-origin` vs CSP `'self'` (✓ = reached the server)\n")
    rows = BYG["origin"]
    atts = rows[0]["probe"]["attempts"]
    P("Targets: " + "; ".join(f"**{i}** `{a['url'].split('?cap')[0]}`" for i, a in enumerate(atts)) + "\n")
    P("| page | policy | " + " | ".join(str(i) for i in range(len(atts))) + " |")
    P("|---|---|" + "---|" * len(atts))
    for r in rows:
        page, pol = r["probe"]["name"].split(": ", 1)
        P(f"| {page} | {pol} | " + " | ".join(short(x) for x in vlist(r)) + " |")
    P()


def sec_csp():
    P("## 6. Together with CSP, and reports\n")
    for r in BYG["csp"]:
        P(f"### {r['probe']['pid']} {r['probe']['name']} ({r['probe']['page']})\n")
        P(hdrs(r) + "\n")
        evs = csp_events(r)
        P("| attempt | verdict | page | CSP violation events |")
        P("|---|---|---|---|")
        for i, a in enumerate(r["probe"]["attempts"]):
            u = a["url"]
            base = u.split("?cap")[0]
            ev = [f"{e['disp']}:{e['ed']}" for e in evs if e["bu"].split("?")[0] == base]
            P(f"| {a['api']} `{base}` | {verdict(r, i, META)[0]} | {cell(page_out(r, i))} | {', '.join(ev)} |")
        P()
        if r["reports"]:
            P(f"{len(r['reports'])} report POST(s):\n")
            for rep in r["reports"]:
                ct = [v for k, v in rep["headers"] if k.lower() == "content-type"]
                P(f"- POST {rep['path']} (Content-Type {ct[0] if ct else '?'}): " + "; ".join(
                    f"`{x.get('type')}` {json.dumps(x.get('body'))}" for x in (rep["json"] or [])))
        else:
            P("No report POST.")
        pg = final_page(r) or {}
        if pg.get("rep"):
            P("\nReportingObserver saw: " + "; ".join(f"`{x.get('type')}` {json.dumps(x.get('body'))}" for x in pg["rep"]))
        P()


def sec_xlate():
    P("## 7. Translation connect-src → allowlist (verified: CSP alone vs CSP + allowlist on the same page)\n")
    P("Grid: every target below, on the page named; ✓ reached the server. **verified** = CSP + allowlist gives the "
      "same verdict as CSP alone for every target. **widening** = targets the allowlist alone admits that the CSP "
      "source alone blocks (what the pattern admits beyond the source).\n")
    groups = {}
    for r in BYG["xlate"]:
        i = r["probe"]["info"]
        groups.setdefault((i["src"], i["page_origin"]), []).append(r)
    P("| connect-src source | page | allowlist emitted | verified | differences (CSP alone → CSP + allowlist) | widening |")
    P("|---|---|---|---|---|---|")
    for (src, page), rs in groups.items():
        csp_only = [r for r in rs if r["probe"]["info"]["kind"] == "csp"][0]
        base = vlist(csp_only)
        atts = csp_only["probe"]["attempts"]
        for both in [r for r in rs if r["probe"]["info"]["kind"] == "both"]:
            prop = both["probe"]["info"]["proposal"]
            alone = [r for r in rs if r["probe"]["info"]["kind"] == "ca" and r["probe"]["info"]["proposal"] == prop][0]
            vb, va = vlist(both), vlist(alone)
            diff = [f"{lab(atts[i])}: {short(base[i])}→{short(vb[i])}" for i in range(len(atts)) if base[i] != vb[i]]
            wid = [lab(atts[i]) for i in range(len(atts))
                   if va[i] in ("allowed", "followed") and base[i] not in ("allowed", "followed")]
            P(f"| `{cell(src)}` | {page} | `{cell(prop)}` | {'**yes**' if not diff else '**NO**'} | "
              f"{cell('; '.join(diff))} | {cell(', '.join(wid))} |")
    P()
    if os.environ.get("XLATE_GRIDS") == "0":
        P("The full grids (each target under CSP alone / CSP + allowlist / allowlist alone) are in "
          "`results/run1/tables.md`, section 7b.\n")
        return
    P("### 7b. Full grids (CSP alone / CSP + allowlist / allowlist alone)\n")
    for (src, page), rs in groups.items():
        atts = rs[0]["probe"]["attempts"]
        P(f"**`{src}` on {page}**\n")
        P("| target | " + " | ".join(cell(r["probe"]["name"].split(" :: ", 1)[1]) for r in rs) + " |")
        P("|---|" + "---|" * len(rs))
        vs = [vlist(r) for r in rs]
        for i, a in enumerate(atts):
            P(f"| {lab(a)} | " + " | ".join(short(v[i]) for v in vs) + " |")
        P()


def lab(a):
    if "redir" in a:
        return f"{a['api']} {a['redir'][0]}/redir→{a['redir'][1]}"
    return f"{a['api']} {a['url'].split('?cap')[0]}"


def sec_ignored():
    P("## 8. Engines that do not implement the header (pages http://127.0.0.21, in an iframe)\n")
    engines = ["chromium"] + [e for e in ("firefox", "webkit") if os.path.exists(os.path.join(D, e + ".json"))]
    data = {e: {r["probe"]["name"]: r for r in load(os.path.join(D, e + ".json"))["results"]
                if r["probe"]["group"] == "ignored"} for e in engines}
    metas = {e: load(os.path.join(D, e + ".json"))["meta"] for e in engines}
    P("| value | target | " + " | ".join(engines) + " |")
    P("|---|---|" + "---|" * len(engines))
    for name, r in data["chromium"].items():
        for i, a in enumerate(r["probe"]["attempts"]):
            P(f"| {hdrs(r)} | {a['api']} `{a['url'].split('?cap')[0]}` | " + " | ".join(
                verdict(data[e][name], i, metas[e])[0] if name in data[e] else "-" for e in engines) + " |")
    P()


def sec_console():
    P("## 9. What DevTools shows (console messages and issues, distinct texts, all Chromium probes)\n")
    msgs, iss = {}, {}
    for r in C["results"]:
        for e in r["devtools"]:
            if e["method"] == "Log.entryAdded":
                t = re.sub(r"(https?|wss?)://[^\s'\"]+", "<URL>", e["params"]["entry"]["text"])
                t = re.sub(r'directive: "[^"]*"', 'directive: "…"', t)
                msgs.setdefault(t, set()).add(r["probe"]["group"])
            elif e["method"] == "Audits.issueAdded":
                code = e["params"]["issue"]["code"]
                det = e["params"]["issue"].get("details", {})
                sub = det.get("connectionAllowlistIssueDetails", {}).get("error") or \
                    det.get("genericIssueDetails", {}).get("errorType") or \
                    det.get("mixedContentIssueDetails", {}).get("resolutionStatus") or ""
                iss.setdefault(f"{code} {sub}".strip(), set()).add(r["probe"]["group"])
    P("| console message | groups |")
    P("|---|---|")
    for t, g in sorted(msgs.items()):
        P(f"| `{cell(t[:200])}` | {', '.join(sorted(g))} |")
    P()
    P("| DevTools issue | groups |")
    P("|---|---|")
    for t, g in sorted(iss.items()):
        P(f"| {cell(t)} | {', '.join(sorted(g))} |")
    P()


SECTIONS = {"gram": sec_grammar, "urlp": sec_urlp, "api": sec_api, "nav": sec_nav, "redir": sec_redir,
            "origin": sec_origin, "csp": sec_csp, "xlate": sec_xlate, "ignored": sec_ignored,
            "console": sec_console}

if __name__ == "__main__":
    P(f"# Tables for run `{os.path.basename(os.path.abspath(D))}`\n")
    P(f"Chromium: {META['answered']}/{META['probes']} probes answered, {META['elapsed_s']} s.\n")
    for name in (sys.argv[2].split(",") if len(sys.argv) > 2 else SECTIONS):
        if name in BYG or name in ("ignored", "console"):
            SECTIONS[name]()
