#!/usr/bin/env python3
"""Compare verdicts of two result dirs: compare_runs.py DIR_A DIR_B"""
import json, os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report import verdict
a, b = sys.argv[1], sys.argv[2]
for e in ["webkit", "chromium", "firefox"]:
    fa, fb = os.path.join(a, e + ".json"), os.path.join(b, e + ".json")
    if not (os.path.exists(fa) and os.path.exists(fb)):
        print(e, "missing"); continue
    A = {x["probe"]["pid"]: x for x in json.load(open(fa))}
    B = {x["probe"]["pid"]: x for x in json.load(open(fb))}
    common = sorted(set(A) & set(B), key=int)
    diffs = [(p, verdict(A[p])[0], verdict(B[p])[0]) for p in common if verdict(A[p])[0] != verdict(B[p])[0]]
    print(f"{e}: {len(common)} probes compared, {len(diffs)} verdict differences", diffs)
