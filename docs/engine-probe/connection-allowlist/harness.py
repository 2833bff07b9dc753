#!/usr/bin/env python3
"""Run the probes of cases.py in one engine.

  harness.py ENGINE --out DIR [--only GROUP,GROUP] [--no-cdp]

ENGINE: chromium | firefox | webkit.  Writes DIR/<engine>.json (every probe: its headers,
attempts, the page's own outcome per attempt, every request/TCP accept/STUN packet the server
saw while it ran, every report POSTed, and for Chromium the DevTools console messages and
issues), DIR/<engine>.browser.log, and for Chromium DIR/chromium.netlog.json.
Firefox and WebKit only run the probes marked for them (the "ignored" group), in iframes.
"""
import json, os, shutil, signal, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import server
from server import S
import cases

HERE = os.path.dirname(os.path.abspath(__file__))
MINIBROWSER = "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser"
# dns-prefetch names are mapped to *.localhost names (resolved by Chromium itself, no DNS query
# leaves the machine) so the netlog shows which of them Chromium tried to resolve
RESOLVER = ", ".join([f"MAP {h} {h.replace('.test', '.localhost')}" for h in cases.DNS_PREFETCH_HOSTS] +
                     ["MAP *.test 127.0.0.21", "MAP *.test. 127.0.0.21"])
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-features=HttpsUpgrades,HttpsFirstBalancedModeAutoEnable",
                  "--short-reporting-delay", "--ignore-certificate-errors", "--disable-popup-blocking",
                  "--host-resolver-rules=" + RESOLVER]
FF_PREFS = {
    "browser.shell.checkDefaultBrowser": False, "datareporting.policy.dataSubmissionEnabled": False,
    "datareporting.healthreport.uploadEnabled": False, "toolkit.telemetry.enabled": False,
    "app.update.auto": False, "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False, "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False, "services.settings.server": "http://127.0.0.21:9/",
    "dom.security.https_only_mode": False, "network.trr.mode": 5, "browser.send_pings": True,
    "browser.send_pings.require_same_host": False, "browser.aboutwelcome.enabled": False,
}


def launch(engine, url, log, tmp, use_cdp, netlog):
    env = dict(os.environ)
    pass_fds = ()
    cdp_fds = None
    if engine == "chromium":
        cmd = ["chromium"] + CHROMIUM_FLAGS + ["--user-data-dir=" + os.path.join(tmp, "profile")]
        if netlog:
            cmd += ["--log-net-log=" + netlog, "--net-log-capture-mode=Default"]
        if use_cdp:
            to_r, to_w = os.pipe()      # we write to_w; chromium reads fd 3
            fr_r, fr_w = os.pipe()      # chromium writes fd 4; we read fr_r
            cmd += ["--remote-debugging-pipe"]
            # renumber the two pipe ends to 3 and 4 in the child only
            cmd = ["bash", "-c", 'exec "$@" 3<&%d 4>&%d' % (to_r, fr_w), "chromium"] + cmd
            pass_fds = (to_r, fr_w)
            cdp_fds = (to_w, fr_r, to_r, fr_w)
        cmd += [url]
    elif engine == "firefox":
        prof = os.path.join(tmp, "ffprofile")
        os.makedirs(prof, exist_ok=True)
        with open(os.path.join(prof, "user.js"), "w") as f:
            for k, v in FF_PREFS.items():
                f.write(f'user_pref("{k}", {json.dumps(v)});\n')
        cmd = ["firefox-esr", "--headless", "--no-remote", "--profile", prof, url]
        env["MOZ_DISABLE_AUTO_SAFE_MODE"] = "1"
    elif engine == "webkit":
        env.update(DISPLAY=os.environ.get("PROBE_DISPLAY", ":93"), XDG_DATA_HOME=tmp + "/data",
                   XDG_CACHE_HOME=tmp + "/cache", XDG_CONFIG_HOME=tmp + "/config")
        cmd = [MINIBROWSER, "--ignore-tls-errors", "--enable-hyperlink-auditing=true", url]
    else:
        raise SystemExit("bad engine")
    log.write(f"\n### {time.ctime()} launch: {' '.join(cmd)}\n")
    log.flush()
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=log, start_new_session=True, pass_fds=pass_fds)
    if cdp_fds:
        os.close(cdp_fds[2])
        os.close(cdp_fds[3])
    return proc, cdp_fds


def kill(proc):
    """End the browser this harness started: its own process group only."""
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        if proc.poll() is not None:
            break
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        end = time.time() + wait
        while time.time() < end and proc.poll() is None:
            time.sleep(0.1)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def netlog_hosts(path):
    """Every host name the HostResolver was asked for (HOST_RESOLVER_MANAGER_REQUEST), with is_speculative."""
    try:
        with open(path) as f:
            text = f.read()
        try:
            d = json.loads(text)
        except ValueError:  # an unfinished log: close it
            d = json.loads(text.rstrip().rstrip(",") + "]}")
    except Exception as e:
        return {"error": str(e)}
    inv = {v: k for k, v in d["constants"]["logEventTypes"].items()}
    out = {}
    for e in d.get("events", []):
        if inv.get(e.get("type")) == "HOST_RESOLVER_MANAGER_REQUEST" and "host" in e.get("params", {}):
            h = e["params"]["host"]
            out.setdefault(h, set()).add(bool(e["params"].get("is_speculative")))
    return {h: sorted(v) for h, v in sorted(out.items())}


def main():
    engine = sys.argv[1]
    out = sys.argv[sys.argv.index("--out") + 1]
    only = set(sys.argv[sys.argv.index("--only") + 1].split(",")) if "--only" in sys.argv else None
    use_cdp = engine == "chromium" and "--no-cdp" not in sys.argv
    os.makedirs(out, exist_ok=True)
    probes = [p for p in cases.build() if engine in p["engines"] and (only is None or p["group"] in only)]
    if engine != "chromium":
        for p in probes:
            p["ctx"] = "iframe"
    S.reset(engine, [p["pid"] for p in probes], {p["pid"]: p for p in probes}, out)
    handles = server.start_servers()
    tmp = tempfile.mkdtemp(prefix=f"cal-{engine}-", dir=os.path.join(HERE, "tmp"))
    log = open(os.path.join(out, f"{engine}.browser.log"), "w")
    events = []
    netlog = os.path.join(tmp, "chromium.netlog.json") if engine == "chromium" else None

    def on_event(ev):
        if ev["method"] in ("Network.requestWillBeSent", "Network.webSocketCreated") and \
                "cap=" not in (ev["params"].get("url") or ""):
            return
        ev["during"] = S.current
        events.append(ev)

    ctl = cases.CONTROLLER[engine]
    proc, fds = launch(engine, ctl, log, tmp, use_cdp, netlog)
    cdp = None
    if fds:
        from cdp import CDP
        cdp = CDP(fds[0], fds[1], on_event)
        cdp.start()
    t0 = time.time()
    budget = 60 + sum(p["wait"] + 2000 for p in probes) / 1000.0
    while not S.done and time.time() - t0 < budget and proc.poll() is None:
        time.sleep(0.5)
        if time.time() - S.last_progress > 40:
            log.write(f"### stalled at {S.current}\n")
            break
    time.sleep(1.5)  # late reports
    if cdp and cdp.alive:
        cdp.close_browser()
        end = time.time() + 10
        while time.time() < end and proc.poll() is None:
            time.sleep(0.2)
    kill(proc)
    resolved = netlog_hosts(netlog) if netlog and os.path.exists(netlog) else None
    elapsed = time.time() - t0
    results = []
    for p in probes:
        pid = p["pid"]
        results.append({
            "probe": p,
            "page": S.results.get(pid, []),
            "requests": [r for r in S.requests if r.get("during") == pid or (r.get("tag") or "").split(".")[0] == pid],
            "accepts": [a for a in S.accepts if a.get("during") == pid]
            if any(a["api"] == "preconnect" for a in p["attempts"]) else "(kept for preconnect probes only)",
            "udp": [u for u in S.udp if u.get("during") == pid],
            "reports": [r for r in S.reports if (r.get("tag") or "").split(".")[0] == pid
                        or (not r.get("tag") and r.get("during") == pid)],
            "devtools": [e for e in events if e.get("during") == pid],
        })
    meta = {"engine": engine, "elapsed_s": round(elapsed, 1), "probes": len(probes),
            "answered": sum(1 for p in probes if S.results.get(p["pid"])), "done": S.done,
            "resolved_hosts": resolved, "late_reports": [r for r in S.reports if r.get("during") is None]}
    with open(os.path.join(out, f"{engine}.json"), "w") as f:
        json.dump({"meta": meta, "results": results}, f, separators=(",", ":"),
                  default=lambda b: {"utf8_bytes": b.decode("utf-8", "replace")})
    server.stop_servers(handles)
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"{engine}: {meta['answered']}/{len(probes)} probes answered in {elapsed:.0f}s, done={S.done}")


if __name__ == "__main__":
    main()
