#!/usr/bin/env python3
"""Compare two runs: compare.py DIR_A DIR_B.  Prints every attempt whose verdict differs, and every
probe whose set of reported connections differs (batching into POSTs is ignored)."""
import os, re, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from analyze import load, verdict


def norm(v):
    return re.sub(r"STUN sent \(\d+ pkts\)", "STUN sent", v)


def reported(res):
    out = set()
    for rep in res["reports"]:
        for x in rep.get("json") or []:
            b = x.get("body") or {}
            out.add((x.get("type"), b.get("disposition"), b.get("connection") or b.get("blockedURL")))
    return out


a, b = sys.argv[1], sys.argv[2]
total_diff = 0
for e in ("chromium", "firefox", "webkit"):
    fa, fb = os.path.join(a, e + ".json"), os.path.join(b, e + ".json")
    if not (os.path.exists(fa) and os.path.exists(fb)):
        print(f"{e}: missing in one run")
        continue
    A, B = load(fa), load(fb)
    ra = {r["probe"]["pid"]: r for r in A["results"]}
    rb = {r["probe"]["pid"]: r for r in B["results"]}
    n = 0
    diffs = []
    for pid in ra:
        if pid not in rb:
            diffs.append(f"{pid}: only in {a}")
            continue
        for i in range(len(ra[pid]["probe"]["attempts"])):
            n += 1
            va = norm(verdict(ra[pid], i, A["meta"])[0])
            vb = norm(verdict(rb[pid], i, B["meta"])[0])
            if va != vb:
                diffs.append(f"{pid} #{i} {ra[pid]['probe']['attempts'][i]['api']} "
                             f"{ra[pid]['probe']['attempts'][i]['url'][:70]}: {va} / {vb}")
        if reported(ra[pid]) != reported(rb[pid]):
            diffs.append(f"{pid}: reported connections differ: {sorted(map(str, reported(ra[pid]) ^ reported(rb[pid])))[:4]}")
    total_diff += len(diffs)
    print(f"{e}: {len(ra)} probes, {n} attempts compared, {len(diffs)} differences")
    for d in diffs:
        print("   ", d)
print("SAME" if total_diff == 0 else f"{total_diff} DIFFERENCES")
