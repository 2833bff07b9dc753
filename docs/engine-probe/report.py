#!/usr/bin/env python3
"""Build markdown tables from results/<engine>.json"""
import json, os, re, sys

HERE = os.path.dirname(os.path.abspath(__file__))
ENGINES = ["webkit", "chromium", "firefox"]
GROUPS = {
    "G0": "Sanity", "G1": "1. `*` vs WebSocket", "G2": "2. IP-literal source", "G3": "3. explicit :80 source vs https/443",
    "G4": "4. non-ASCII bytes in directive", "G5": "5. query / fragment in source", "G6": "6. control / look-alike chars",
    "G7": "7. 'self' on default ports", "G8": "8. host wildcards vs IP target", "G9": "9. leading zeros in port",
    "G10": "10. trailing-dot hosts", "G11": "11. ws/wss source vs target", "G12": "12. whole-header combinations",
    "G13": "13. other APIs", "G14": "14. reports",
}


def esc(s):
    b = s.encode("latin-1")
    out = ""
    for c in b:
        if c < 0x20 or c >= 0x7f:
            out += "\\x%02X" % c
        elif c == ord("|"):
            out += "\\|"
        else:
            out += chr(c)
    return out


def verdict(x):
    p, r = x["probe"], x["result"]
    if r is None:
        return f"NO RESULT ({x.get('timeout')})", ""
    if p["api"] == "typeof":
        return f"`{r.get('out')}`", ""
    evs = r.get("ev", [])
    # only connect-src violations count (default-src 'none' pages also report e.g. style-src-attr)
    enf = [e for e in evs if e.get("disp") != "report" and e.get("ed") == "connect-src"]
    ro = [e for e in evs if e.get("disp") == "report" and e.get("ed") == "connect-src"]
    reqs = [q for q in x["requests"] if q["kind"] not in ("report",)]
    if p["api"] == "ping":
        reqs = [q for q in reqs if q["kind"] == "ping"]
    reached = bool(reqs)
    out = r.get("out", "")
    if reached and not enf:
        v = "allowed"
    elif reached and enf:
        v = "allowed+violation?!"
    elif enf:
        v = "**BLOCKED**"
    else:
        v = "not sent, no violation"
    if ro:
        v += " (+RO report ev)"
    det = f"out={out}"
    if evs:
        det += "; ev=" + ",".join(f"{e['disp']}:{e['ed']}:{e['bu']}" for e in evs)
    if reqs:
        det += "; srv=" + ",".join(f"{q['scheme']}://{q['host']}{q['path']}[{q['kind']}]" for q in reqs)
    return v, det


def main():
    data = {}
    for e in ENGINES:
        fn = os.path.join(os.environ.get("RESULTS_DIR", os.path.join(HERE, "results")), f"{e}.json")
        if os.path.exists(fn):
            data[e] = {x["probe"]["pid"]: x for x in json.load(open(fn))}
    any_e = next(iter(data.values()))
    pids = sorted(any_e, key=int)
    # take probe list from cases (so partial runs still list everything)
    sys.path.insert(0, HERE)
    import cases
    details = []
    cur = None
    for p in sorted(cases.PROBES, key=lambda p: (list(GROUPS).index(p["group"]), int(p["pid"]))):
        if p["group"] != cur:
            cur = p["group"]
            print(f"\n### {GROUPS[cur]}\n")
            print("| # | policy header(s) | page | API | target | CSP3 spec | webkit | chromium | firefox | note |")
            print("|---|---|---|---|---|---|---|---|---|---|")
        pol = "<br>".join(("RO: " if h.endswith("Report-Only") else "") + "`" + esc(v.decode("latin-1")) + "`"
                          for h, v in p["policy"])
        tgt = re.sub(r"[?&]pid=\d+$", "", p["target"])
        import oracle
        spec = oracle.decide(p) if p["api"] != "typeof" else "-"
        cells = [spec]
        for e in ENGINES:
            x = data.get(e, {}).get(p["pid"])
            if x is None:
                cells.append("not run")
                continue
            v, det = verdict(x)
            if spec != "-" and not v.startswith("NO RESULT") and not v.startswith("not sent"):
                got = "allowed" if v.startswith("allowed") else "blocked"
                if got != spec:
                    v += " ≠spec"
            cells.append(v)
            details.append(f"- #{p['pid']} {e}: {esc(det)}")
        print(f"| {p['pid']} | {pol} | {p['page']} | {p['api']} | {tgt} | " + " | ".join(cells) + f" | {p['note']} |")
    print("\n### Per-probe raw details (page outcome, securitypolicyviolation events disp:effectiveDirective:blockedURI, requests seen by server)\n")
    print("\n".join(details))


if __name__ == "__main__":
    main()
